package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/mulletgo/mullet/internal/syncbuf"
	"github.com/mulletgo/mullet/local/dynalite"
)

// TestDevChatSurvivesRebuild drives mullet dev on the chat example with
// real websocket clients: nicks set and a room joined before a rebuild are
// still there after it, on the same connections with the same IDs, and a
// message to the room reaches every member. It runs with the state in
// mullet dev's memory and in the dynalite mullet dev starts by itself.
func TestDevChatSurvivesRebuild(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"memory", nil},
		{"dynamodb", []string{"-store", "dynamodb"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "dynamodb" {
				if _, _, err := dynalite.Locate(); errors.Is(err, dynalite.ErrUnavailable) {
					if os.Getenv("CI") == "true" {
						t.Fatalf("%v (CI=true)", err)
					}
					t.Skip(err)
				}
			}
			testDevChatSurvivesRebuild(t, tc.flags)
		})
	}
}

func testDevChatSurvivesRebuild(t *testing.T, flags []string) {
	const chat = "../../examples/chat"
	addr := freeAddr(t)
	url, callbackURL := "ws://"+addr+"/local", "http://"+addr+"/local"
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncbuf.Buffer
	done := make(chan int, 1)
	args := append([]string{"dev", "-addr", addr, "-poll", "50ms", "-debounce", "50ms", "-lambda-stats", "0"}, flags...)
	go func() { done <- run(ctx, append(args, chat), &stdout, &stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("mullet dev exited %d", code)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("mullet dev did not stop")
		}
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
	})
	waitFor(t, "the chat to serve", 90*time.Second, func() bool {
		return strings.Contains(stdout.String(), "websocket:    "+url)
	})

	dctx, dcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer dcancel()
	// Each client's connection ID is read from the invocation log's
	// $connect line: the clients connect one after the other.
	type client struct {
		nick string
		c    *websocket.Conn
		id   string
	}
	clients := []*client{{nick: "ann"}, {nick: "bob"}, {nick: "cy"}}
	for i, cl := range clients {
		c, _, err := websocket.Dial(dctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.CloseNow() })
		cl.c = c
		waitFor(t, "the $connect log line", 10*time.Second, func() bool { return len(logged(stdout.String(), "$connect")) == i+1 })
		cl.id = logged(stdout.String(), "$connect")[i]
	}
	ann, bob, cy := clients[0], clients[1], clients[2]
	for _, cl := range clients {
		write(t, dctx, cl.c, `{"action":"nick","nick":"`+cl.nick+`"}`)
		expect(t, dctx, cl.c, `{"type":"nick","nick":"`+cl.nick+`"}`)
	}
	// ann and bob are in the lobby; cy is not.
	write(t, dctx, ann.c, `{"action":"join","room":"lobby"}`)
	expect(t, dctx, ann.c, `{"type":"joined","room":"lobby","nick":"ann"}`)
	write(t, dctx, bob.c, `{"action":"join","room":"lobby"}`)
	for _, cl := range []*client{ann, bob} {
		expect(t, dctx, cl.c, `{"type":"joined","room":"lobby","nick":"bob"}`)
	}

	// Touch a .go file: mullet dev rebuilds and new invocations go to
	// instances of the new build.
	coldStarts := strings.Count(stderr.String(), `msg="lambda cold start"`)
	now := time.Now()
	if err := os.Chtimes(chat+"/main.go", now, now); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rebuild", 60*time.Second, func() bool {
		return strings.Contains(stderr.String(), "new invocations go to Lambda instances of the new build (connections stay open)")
	})

	// The same connections, with the same IDs: @connections reaches each
	// client through the ID it had before the rebuild.
	for _, cl := range clients {
		if code, out, errOut := runCLI(t, "post", "-endpoint", callbackURL, cl.id, "hello "+cl.nick); code != 0 {
			t.Fatalf("post to %s's connection %s: exit %d\n%s%s", cl.nick, cl.id, code, out, errOut)
		}
		expect(t, dctx, cl.c, "hello "+cl.nick)
	}
	// The state and the room: ann's message (which the handler refuses
	// unless her state lists the room) reaches the lobby, from her nick.
	write(t, dctx, ann.c, `{"action":"send","room":"lobby","text":"still here?"}`)
	for _, cl := range []*client{ann, bob} {
		expect(t, dctx, cl.c, `{"type":"message","room":"lobby","from":"ann","text":"still here?"}`)
	}
	write(t, dctx, bob.c, `{"action":"send","room":"lobby","text":"yes"}`)
	for _, cl := range []*client{ann, bob} {
		expect(t, dctx, cl.c, `{"type":"message","room":"lobby","from":"bob","text":"yes"}`)
	}
	// cy, who never joined, got neither message and may not send there.
	write(t, dctx, cy.c, `{"action":"send","room":"lobby","text":"let me in"}`)
	if got := read(t, dctx, cy.c); !strings.Contains(got, `join room \"lobby\" before sending to it`) {
		t.Fatalf("cy got %s, want the refusal", got)
	}
	// Those frames ran on the same connection IDs, in new instances.
	waitFor(t, "the send invocations to be logged", 10*time.Second, func() bool { return len(logged(stdout.String(), "send")) == 3 })
	// A line is logged when its invocation ends, and bob's may end after
	// cy's refusal: compare them as a set.
	sends := logged(stdout.String(), "send")
	want := []string{ann.id, bob.id, cy.id}
	slices.Sort(sends)
	slices.Sort(want)
	if !slices.Equal(sends, want) {
		t.Fatalf("send invocations logged for %q, want ann's, bob's, cy's: %q %q %q", sends, ann.id, bob.id, cy.id)
	}
	if n := strings.Count(stderr.String(), `msg="lambda cold start"`); n <= coldStarts {
		t.Fatalf("no instance of the new build started (%d cold starts before the rebuild, %d after)", coldStarts, n)
	}
	if s := strings.ToLower(stderr.String()); strings.Contains(s, "imds") || strings.Contains(s, "metadata") || strings.Contains(s, "credential") {
		t.Fatalf("stderr mentions instance metadata or credentials:\n%s", stderr.String())
	}
}

// logged returns the connection IDs of the invocation log's lines (JSON,
// as stdout is not a terminal) for route, in order.
func logged(out, route string) []string {
	var ids []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var l struct {
			Route        string `json:"route"`
			ConnectionID string `json:"connectionId"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Route == route {
			ids = append(ids, l.ConnectionID)
		}
	}
	return ids
}

func write(t *testing.T, ctx context.Context, c *websocket.Conn, frame string) {
	t.Helper()
	if err := c.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
		t.Fatalf("write %s: %v", frame, err)
	}
}

func read(t *testing.T, ctx context.Context, c *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, data, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(data)
}

func expect(t *testing.T, ctx context.Context, c *websocket.Conn, want string) {
	t.Helper()
	if got := unwrapMsg(read(t, ctx, c)); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// unwrapMsg returns the data of a durable group's msg frame
// (docs/protocol.md), or the frame itself: the chat's room events come
// wrapped, its replies do not.
func unwrapMsg(frame string) string {
	var env struct {
		Mullet string          `json:"mullet"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(frame), &env); err == nil && env.Mullet == "msg" {
		return string(env.Data)
	}
	return frame
}
