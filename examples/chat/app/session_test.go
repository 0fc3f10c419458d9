package app_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"testing"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/mullettest"
)

// chatSession is a client's side of a chat session (docs/protocol.md 2).
type chatSession struct{ id, secret string }

func token(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *chatSession) dial(t *testing.T, srv *mullettest.Server) *mullettest.Client {
	t.Helper()
	next := token(32)
	q := url.Values{framework.ParamSession: {s.id}, framework.ParamNext: {framework.HashSecret(next)}}
	if s.secret != "" {
		q.Set(framework.ParamSecret, s.secret)
	}
	c := srv.Dial(t, &mullettest.DialOptions{Query: q})
	s.secret = next
	return c
}

// readType reads frames until an event of type typ (in a msg frame or
// not), skipping presence events.
func readType(t *testing.T, c *mullettest.Client, typ string) string {
	t.Helper()
	for {
		f := c.Read(t)
		var probe struct {
			Mullet string `json:"mullet"`
			Type   string `json:"type"`
		}
		_ = json.Unmarshal([]byte(f), &probe)
		if probe.Mullet == "presence" {
			continue
		}
		if e := decode(t, f); e.Type == typ || probe.Type == typ {
			return f
		}
	}
}

// TestChatSessions: a nick kept per session across reconnects, history on
// join, who is here, and the rooms of a session carried to its new
// connection.
func TestChatSessions(t *testing.T) {
	for name, serve := range backends() {
		if name == "lambda" {
			continue // the Lambda backend runs the same code; the end-to-end test covers it
		}
		t.Run(name, func(t *testing.T) {
			srv := serve(t)
			ann, bob := &chatSession{id: token(16)}, &chatSession{id: token(16)}
			a := ann.dial(t, srv)
			a.Send(t, `{"action":"nick","nick":"ann"}`)
			readType(t, a, "nick")
			a.Send(t, `{"action":"join","room":"lobby"}`)
			readType(t, a, "joined")
			for _, text := range []string{"one", "two"} {
				a.Send(t, `{"action":"send","room":"lobby","text":"`+text+`"}`)
				readType(t, a, "message")
			}
			b := bob.dial(t, srv)
			b.Send(t, `{"action":"nick","nick":"bob"}`)
			readType(t, b, "nick")
			b.Send(t, `{"action":"join","room":"lobby","history":10}`)
			var history []string
			for len(history) < 2 {
				if e := decode(t, readType(t, b, "message")); e.Type == "message" {
					history = append(history, e.Text)
				}
			}
			if !slices.Equal(history, []string{"one", "two"}) {
				t.Fatalf("history on join = %v", history)
			}
			b.Send(t, `{"action":"who","room":"lobby"}`)
			var who struct{ Nicks []string }
			if err := json.Unmarshal([]byte(readType(t, b, "who")), &who); err != nil {
				t.Fatal(err)
			}
			slices.Sort(who.Nicks)
			if !slices.Equal(who.Nicks, []string{"ann", "bob"}) {
				t.Fatalf("who = %v", who.Nicks)
			}
			// Bob reconnects: his nick and his room come with his session.
			b.Conn.CloseNow()
			b = bob.dial(t, srv)
			b.Send(t, `{"action":"send","room":"lobby","text":"back"}`)
			for _, c := range []*mullettest.Client{a, b} {
				if e := decode(t, readType(t, c, "message")); e.From != "bob" || e.Text != "back" {
					t.Fatalf("message after reconnect = %+v", e)
				}
			}
		})
	}
}
