package peer_test

import "crypto/tls"

// strangerTLS is the client configuration of a third party that accepts any
// server and presents its own key.
func strangerTLS(cert tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true, NextProtos: []string{"mullet-p2p/1"}, MinVersion: tls.VersionTLS13}
}
