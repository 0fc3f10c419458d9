package mullettest_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/mulletgo/mullet/mullettest"
	"github.com/mulletgo/mullet/mullettest/dynalitetest"
	"github.com/mulletgo/mullet/mullettest/testdata/timeouts/app"
	"github.com/mulletgo/mullet/store/memstore"
)

// TestBarrierTimeoutEndToEnd: real websocket clients against the emulator;
// the app's barrier timer goes through the real EventBridge Scheduler
// client to the emulator's stand-in and back into the app. A client left
// alone gets its timeout frame once; a later pair under the same key meets
// without it. In process on the in-memory store and on dynalite, and as
// Lambda instances of the app's binary sharing a dynalite table.
func TestBarrierTimeoutEndToEnd(t *testing.T) {
	backends := []struct {
		name  string
		serve func(t *testing.T) *mullettest.Server
	}{
		{"memory", func(t *testing.T) *mullettest.Server {
			return mullettest.NewServer(t, app.New(), &mullettest.Options{Store: memstore.New(nil)})
		}},
		{"dynamodb", func(t *testing.T) *mullettest.Server {
			return mullettest.NewServer(t, app.New(), &mullettest.Options{Store: dynalitetest.NewStore(t)})
		}},
		{"lambda", func(t *testing.T) *mullettest.Server {
			db := dynalitetest.Start(t)
			return mullettest.NewServer(t, app.New(), &mullettest.Options{Lambda: &mullettest.Lambda{
				MainDir: "testdata/timeouts", Table: db.NewTable(t), DynamoDBEndpoint: db.Endpoint,
			}})
		}},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			srv := b.serve(t)
			alone := srv.Dial(t, nil)
			sent := time.Now()
			alone.Send(t, `{"action":"arrive","key":"k"}`)
			// TTL, rounded up to the scheduler's whole second, and slack.
			frame, err := alone.ReadTimeout(app.TTL + 5*time.Second)
			if err != nil {
				t.Fatalf("no timeout frame: %v", err)
			}
			if frame != `{"timedOut":"k"}` {
				t.Fatalf("first frame %s, want the timeout frame", frame)
			}
			if waited := time.Since(sent); waited < app.TTL {
				t.Fatalf("timed out after %v, before the TTL %v", waited, app.TTL)
			}
			t.Logf("timeout frame %v after the arrival (TTL %v)", time.Since(sent).Round(time.Millisecond), app.TTL)

			// The key is free: a new pair meets, and the timed-out client
			// hears nothing more.
			a, b := srv.Dial(t, nil), srv.Dial(t, nil)
			a.Send(t, `{"action":"arrive","key":"k"}`)
			time.Sleep(100 * time.Millisecond)
			b.Send(t, `{"action":"arrive","key":"k"}`)
			for _, c := range []*mullettest.Client{a, b} {
				var got map[string]string
				if err := json.Unmarshal([]byte(c.Read(t)), &got); err != nil || got["peer"] == "" {
					t.Fatalf("pair frame %v, %v", got, err)
				}
			}
			// The pair's own timer finds it released: nothing is sent.
			// (ExpectSilence closes the connection, hence last.)
			deadline := time.Now().Add(app.TTL + 1500*time.Millisecond)
			for _, c := range []*mullettest.Client{alone, a, b} {
				c.ExpectSilence(t, time.Until(deadline))
			}
		})
	}
}
