// Package app declares the chat example: nicknames kept as per-session
// state, rooms as durable groups with presence, messages broadcast to a
// room. A client that presents a session (docs/protocol.md) keeps its nick
// and rooms across reconnects, gets what it missed, and can ask who is
// here; a client that does not gets a per-connection chat as before, with
// room messages in msg frames.
package app

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/mulletgo/mullet/framework"
)

// Profile is each connection's state.
type Profile struct {
	Nick  string   `json:"nick,omitempty"`
	Rooms []string `json:"rooms,omitempty"`
}

// SetNick sets the caller's nickname.
type SetNick struct {
	Nick string `json:"nick" schema:"minLength=1,maxLength=32,pattern=^[^\\s].*$"`
}

// Room names a room to leave or list.
type Room struct {
	Room string `json:"room" schema:"minLength=1,maxLength=64,pattern=^[A-Za-z0-9_.-]+$"`
}

// Join names a room to join and, optionally, how many of its latest
// messages to get (history on join).
type Join struct {
	Room    string `json:"room" schema:"minLength=1,maxLength=64,pattern=^[A-Za-z0-9_.-]+$"`
	History int    `json:"history,omitempty" schema:"minimum=0,maximum=100"`
}

// Who answers "who is here": the nicks present in a room.
type Who struct {
	Type  string   `json:"type"`
	Room  string   `json:"room"`
	Nicks []string `json:"nicks"`
}

// Presence is each member's presence data in a room.
type Presence struct {
	Nick string `json:"nick"`
}

// Send is a message to a room. ID, chosen by the client, comes back in
// the message's Event: a client that sends a message again after a cut
// (not knowing whether the first copy was served) shows it once.
type Send struct {
	Room string `json:"room" schema:"minLength=1,maxLength=64,pattern=^[A-Za-z0-9_.-]+$"`
	Text string `json:"text" schema:"minLength=1,maxLength=4096"`
	ID   string `json:"id,omitempty" schema:"maxLength=64"`
}

// Event is every frame the server pushes.
type Event struct {
	Type string `json:"type"`
	Room string `json:"room,omitempty"`
	From string `json:"from,omitempty"`
	Nick string `json:"nick,omitempty"`
	Text string `json:"text,omitempty"`
	ID   string `json:"id,omitempty"`
}

// New declares the chat app.
func New() *framework.App[Profile] {
	app := framework.New[Profile]("chat", &framework.Options{
		Sessions: &framework.SessionOptions{SessionState: true, TTL: 10 * time.Minute},
	})
	// Every room is durable (the latest 200 messages of the last hour can
	// be replayed) and keeps presence.
	app.Groups("", &framework.GroupOptions{Durable: true, Window: 200, WindowTTL: time.Hour, Presence: true})
	// What rooms carry: the data of their msg frames (docs/asyncapi.md).
	framework.Publishes[Event](app, "")

	framework.Handle(app, "nick", func(ctx context.Context, c *framework.Conn[Profile], m SetNick) error {
		if err := c.UpdateState(ctx, func(p *Profile) error { p.Nick = m.Nick; return nil }); err != nil {
			return err
		}
		return c.ReplyJSON(ctx, Event{Type: "nick", Nick: m.Nick})
	}, &framework.RouteOptions{TwoWay: true, Replies: Event{}})

	framework.Handle(app, "join", func(ctx context.Context, c *framework.Conn[Profile], m Join) error {
		var p Profile
		err := c.UpdateState(ctx, func(s *Profile) error {
			if !slices.Contains(s.Rooms, m.Room) {
				s.Rooms = append(s.Rooms, m.Room)
			}
			p = *s
			return nil
		})
		if err != nil {
			return err
		}
		sid, err := c.Session(ctx)
		if err != nil {
			return err
		}
		if sid != "" {
			err = c.Present(ctx, m.Room, Presence{Nick: nickOf(p, c)}, &framework.PresenceOptions{Events: true})
		} else {
			err = c.Join(ctx, m.Room)
		}
		if err != nil {
			return err
		}
		if m.History > 0 {
			if err := c.History(ctx, m.Room, m.History); err != nil {
				return err
			}
		}
		_, err = c.BroadcastJSON(ctx, m.Room, Event{Type: "joined", Room: m.Room, Nick: nickOf(p, c)})
		return err
	}, nil)

	framework.Handle(app, "who", func(ctx context.Context, c *framework.Conn[Profile], m Room) error {
		members, err := c.Presence(ctx, m.Room)
		if err != nil {
			return err
		}
		w := Who{Type: "who", Room: m.Room, Nicks: []string{}}
		for _, mb := range members {
			var p Presence
			if json.Unmarshal(mb.Data, &p) == nil {
				w.Nicks = append(w.Nicks, p.Nick)
			}
		}
		return c.ReplyJSON(ctx, w)
	}, &framework.RouteOptions{Replies: Who{}})

	framework.Handle(app, "leave", func(ctx context.Context, c *framework.Conn[Profile], m Room) error {
		var p Profile
		err := c.UpdateState(ctx, func(s *Profile) error {
			s.Rooms = slices.DeleteFunc(s.Rooms, func(r string) bool { return r == m.Room })
			p = *s
			return nil
		})
		if err != nil {
			return err
		}
		// Tell the room, the leaver included, then leave.
		if _, err := c.BroadcastJSON(ctx, m.Room, Event{Type: "left", Room: m.Room, Nick: nickOf(p, c)}); err != nil {
			return err
		}
		return c.Leave(ctx, m.Room)
	}, nil)

	framework.Handle(app, "send", func(ctx context.Context, c *framework.Conn[Profile], m Send) error {
		p, err := c.State(ctx)
		if err != nil {
			return err
		}
		if !slices.Contains(p.Rooms, m.Room) {
			return framework.NewError(http.StatusForbidden, "join room %q before sending to it", m.Room)
		}
		// Gone members are removed and counted; they are never an error
		// for the sender.
		_, err = c.BroadcastJSON(ctx, m.Room, Event{Type: "message", Room: m.Room, From: nickOf(p, c), Text: m.Text, ID: m.ID})
		return err
	}, nil)

	return app
}

func nickOf(p Profile, c *framework.Conn[Profile]) string {
	if p.Nick != "" {
		return p.Nick
	}
	return "anon-" + c.ConnectionID()[:4]
}
