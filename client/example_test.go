package client_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/mulletgo/mullet/client"
	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/local"
)

// A chat message in a durable room.
type chatLine struct {
	Text string `json:"text"`
}

// Example dials an app, joins a durable room with a request, and receives
// the room's messages: exactly once and in order, whatever cuts happen in
// between.
func Example() {
	url, stop := exampleServer()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := client.Dial(ctx, url, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	reply, err := c.Request(ctx, map[string]string{"action": "join", "room": "room-lobby"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("reply:", string(reply.Raw))
	for _, text := range []string{"hello", "again"} {
		c.SendJSON(ctx, map[string]string{"action": "say", "room": "room-lobby", "text": text})
		m, err := c.Receive(ctx)
		if err != nil {
			fmt.Println(err)
			return
		}
		line, _ := client.Decode[chatLine](m)
		fmt.Println(m.Kind, m.Group, m.Position.Offset, line.Text)
		c.Cut() // as a network change would: the client resumes on its own
	}
	// Output:
	// reply: {"$rid":"r-1","joined":"room-lobby"}
	// durable room-lobby 1 hello
	// durable room-lobby 2 again
}

type exampleJoin struct {
	Room string `json:"room"`
}

type exampleSay struct {
	Room string `json:"room"`
	Text string `json:"text"`
}

// exampleServer runs a small app with sessions and durable rooms on the
// emulator.
func exampleServer() (url string, stop func()) {
	app := framework.New[struct{}]("example", &framework.Options{Sessions: &framework.SessionOptions{}})
	app.Groups("room-", &framework.GroupOptions{Durable: true})
	framework.Handle(app, "join", func(ctx context.Context, c *framework.Conn[struct{}], m exampleJoin) error {
		if err := c.Join(ctx, m.Room); err != nil {
			return err
		}
		return c.ReplyJSON(ctx, map[string]string{"joined": m.Room})
	}, nil)
	framework.Handle(app, "say", func(ctx context.Context, c *framework.Conn[struct{}], m exampleSay) error {
		_, err := c.BroadcastJSON(ctx, m.Room, chatLine{Text: m.Text})
		return err
	}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = local.Serve(ctx, app, &local.Options{
			Addr:   "127.0.0.1:0",
			Out:    io.Discard,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Ready:  func(ws, _ string) { ready <- ws },
		})
	}()
	return <-ready, func() { cancel(); <-done }
}
