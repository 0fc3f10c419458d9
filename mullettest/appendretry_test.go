package mullettest_test

import (
	"bytes"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/mulletgo/mullet/mullettest"
	"github.com/mulletgo/mullet/mullettest/dynalitetest"
	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/dynamostore"
)

// TestDurableBroadcastAppliedDespiteError: a durable broadcast whose
// stream write was applied but answered with a 500 reaches each member
// once, and its stream holds it once, whether the SDK retried the write
// (one answer lost) or the framework retried the Append after the SDK gave
// up (every attempt's answer lost).
func TestDurableBroadcastAppliedDespiteError(t *testing.T) {
	const attempts = 2 // the store's SDK attempts per request
	db := dynalitetest.Start(t)
	for _, tc := range []struct {
		name string
		lost int
	}{
		{"the SDK retries", 1},
		{"the framework retries", attempts},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Lose the answers of stream message writes.
			faults := &dynalitetest.LostAnswers{Match: func(target string, body []byte) bool {
				return target == "DynamoDB_20120810.PutItem" && bytes.Contains(body, []byte(`"stream#`))
			}}
			client := db.NewClient(t, func(o *dynamodb.Options) { o.HTTPClient = &http.Client{Transport: faults} })
			st := dynamostore.New(client, db.NewTable(t), &dynamostore.Options{MaxAttempts: attempts, BaseBackoff: time.Millisecond})
			srv := mullettest.NewServer(t, contApp(contOpts{window: 100, grace: time.Second}), &mullettest.Options{Store: st})

			a, b := newSession(t).mustDial(t, srv), newSession(t).mustDial(t, srv)
			for _, c := range []*mullettest.Client{a, b} {
				c.Send(t, `{"action":"join","room":"room1"}`)
				readUntil(t, c, func(f contFrame) bool { return f.Joined == "room1" })
			}
			isMsg := func(f contFrame) bool { return f.Mullet == "msg" }

			faults.Lose(tc.lost)
			a.Send(t, `{"action":"say","room":"room1","text":"d1"}`)
			first := readUntil(t, b, isMsg)
			if left := faults.Left(); left > 0 {
				t.Fatalf("%d injected faults left unused", left)
			}
			a.Send(t, `{"action":"say","room":"room1","text":"d2"}`)
			second := readUntil(t, b, isMsg)
			if got := texts([]contFrame{first, second}); !slices.Equal(got, []string{"d1", "d2"}) || second.Offset != first.Offset+1 {
				t.Fatalf("live: %v at offsets %d, %d; want d1, d2 at consecutive offsets", got, first.Offset, second.Offset)
			}
			// A replay of the room from the member's join shows each once.
			msgs, _ := syncRead(t, b, map[string]store.Position{})
			if got := texts(msgs); !slices.Equal(got, []string{"d1", "d2"}) {
				t.Fatalf("replayed %v; want [d1 d2]: each broadcast once in the stream", got)
			}
		})
	}
}
