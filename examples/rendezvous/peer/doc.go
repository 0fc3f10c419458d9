// Package peer connects two programs through the rendezvous service of
// examples/rendezvous and gives them a direct, encrypted link: QUIC over a
// UDP path punched through both NATs, or, when no such path exists, QUIC
// relayed through the service itself.
//
// Two lines per end:
//
//	conn, err := peer.Dial(ctx, "wss://abc123.execute-api.us-east-1.amazonaws.com/prod", "job-42", nil)
//	stream, err := conn.OpenStream(ctx) // the other end: conn.AcceptStream(ctx)
//
// # How a link is made
//
//  1. Each end binds a UDP socket, makes a key (or takes
//     Options.Certificate), and sends the service
//     {"action":"pair","pairing_name":...,"ports":[PORT],"fingerprint":...}.
//     The service's answer carries the peer's public IP (as API Gateway saw
//     it), its ports, its key's fingerprint and its connection ID.
//  2. Each end sends a few packets towards the peer's public IP and ports
//     with a small TTL (Options.PunchTTL, default 2): they open the
//     sender's own NAT mapping and expire before they reach the peer's
//     NAT. Then it tells the peer so through the service, and waits for the
//     same word from the peer.
//  3. Both ends send punch packets to each other every 50 ms while the end
//     with the smaller fingerprint dials QUIC to the other, until
//     Options.PunchTimeout. The QUIC handshake is TLS 1.3 with both keys
//     pinned to the fingerprints from the rendezvous: a third party that
//     reaches the punched port cannot complete it.
//  4. If the handshake fails, the dialing end says so through the service
//     and both run the same QUIC handshake through the service's relay
//     route: packets batched into websocket frames of at most 24 KB before
//     base64, so that each stays inside API Gateway's 32 KB frame quota.
//
// # NAT behaviours
//
// Endpoint-independent, port-preserving NATs (Linux masquerade without
// "random", most home routers): the direct path, thanks to step 2. Without
// it, a Linux masquerade NAT sees the peer's first packet before its own
// host's, records it as an unreplied flow, and moves its host's flow to a
// random port; the punch then fails.
//
// NATs that keep the mapping but change the port (endpoint-independent,
// not port-preserving): the peer's punch packets reveal the port, and the
// dialing end dials it too, provided the other end's NAT lets them in.
//
// Symmetric NATs and random-port masquerades (a new port per destination):
// the relay.
//
// Every relay frame is two API Gateway messages (in and out) and one Lambda
// invocation; a MiB of stream data took 60-71 frames one way and 19-33
// the other in the test bed. examples/rendezvous/README.md prices it.
package peer
