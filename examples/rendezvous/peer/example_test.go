package peer_test

import (
	"context"
	"io"
	"log"
	"os"
	"time"

	"github.com/mulletgo/mullet/examples/rendezvous/peer"
)

// Two functions that share a pairing name link up; one sends a file, the
// other receives it. (Run each half on its own end.)
func ExampleDial() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := peer.Dial(ctx, "wss://abc123.execute-api.us-east-1.amazonaws.com/prod", "job-42", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	log.Printf("linked to %s over the %v path", conn.PeerFingerprint(), conn.Path())

	// The sending end:
	stream, err := conn.OpenStream(ctx)
	if err != nil {
		log.Fatal(err)
	}
	f, _ := os.Open("results.json")
	io.Copy(stream, f)
	stream.Close()

	// The receiving end instead:
	//	stream, err := conn.AcceptStream(ctx)
	//	io.Copy(os.Stdout, stream)
}
