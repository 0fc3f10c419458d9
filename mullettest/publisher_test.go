package mullettest_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/mullettest"
	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/memstore"
)

// TestPublisher: a script with only the store and the callback client
// broadcasts to a durable group and sends to a session; both are durable.
func TestPublisher(t *testing.T) {
	st := memstore.New(nil)
	app := contApp(contOpts{window: 10, grace: time.Second})
	srv := mullettest.NewServer(t, app, &mullettest.Options{Store: st})
	ann := newSession(t)
	a := ann.mustDial(t, srv)
	a.Send(t, `{"action":"join","room":"room1"}`)
	readUntil(t, a, func(f contFrame) bool { return f.Joined == "room1" })

	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	pub := contApp(contOpts{window: 10, grace: time.Second}).Publisher(&framework.Runtime{Store: st, Callback: framework.NewCallback(cfg, nil)}, srv.CallbackURL)
	ctx := context.Background()
	res, err := pub.BroadcastJSON(ctx, "room1", map[string]string{"text": "from cron"})
	if err != nil || res.Sent != 1 || res.Position.Offset == 0 {
		t.Fatalf("BroadcastJSON = %+v, %v", res, err)
	}
	if f := readUntil(t, a, func(f contFrame) bool { return f.Mullet == "msg" }); f.Group != "room1" || f.Offset != res.Position.Offset {
		t.Fatalf("frame %+v, want the broadcast at %+v", f, res.Position)
	}
	// A session away gets what was sent to it when it resumes.
	a.Conn.CloseNow()
	time.Sleep(100 * time.Millisecond)
	pos, err := pub.SendSessionText(ctx, ann.id, "while you were away")
	if err != nil || pos.Offset == 0 {
		t.Fatalf("SendSessionText = %+v, %v", pos, err)
	}
	a = ann.mustDial(t, srv)
	msgs, _ := syncRead(t, a, map[string]store.Position{"room1": res.Position})
	if len(msgs) != 1 || msgs[0].Group != "$session" || msgs[0].Offset != pos.Offset {
		t.Fatalf("replayed %+v, want the session send", msgs)
	}
}
