package peer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// alpn is the application protocol both ends name in the QUIC handshake.
const alpn = "mullet-p2p/1"

// NewCertificate returns a fresh self-signed certificate on a new P-256 key,
// valid from an hour ago for a day: what Dial uses when Options.Certificate
// is nil. Its identity is its Fingerprint; names and dates matter to no one.
func NewCertificate() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("peer: generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("peer: serial number: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "mullet peer"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("peer: self-sign: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("peer: parse own certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// Fingerprint is the identity Dial pins: the lowercase hex SHA-256 of the
// certificate's public key (its SubjectPublicKeyInfo), so that a peer may
// renew its certificate on the same key.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

// certificateFingerprint is the Fingerprint of a tls.Certificate's leaf.
func certificateFingerprint(c *tls.Certificate) (string, error) {
	if c == nil || len(c.Certificate) == 0 || c.PrivateKey == nil {
		return "", errors.New("peer: Options.Certificate has no certificate or no private key")
	}
	leaf := c.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return "", fmt.Errorf("peer: Options.Certificate: %w", err)
		}
	}
	return Fingerprint(leaf), nil
}

// pinned returns a VerifyPeerCertificate that accepts exactly one key.
func pinned(fingerprint string) func(rawCerts [][]byte, _ [][]*x509.Certificate) error {
	return func(rawCerts [][]byte, _ [][]*x509.Certificate) error {
		if len(rawCerts) == 0 {
			return &PinError{Want: fingerprint}
		}
		cert, err := x509.ParseCertificate(rawCerts[0])
		if err != nil {
			return fmt.Errorf("peer: the peer's certificate: %w", err)
		}
		if got := Fingerprint(cert); got != fingerprint {
			return &PinError{Want: fingerprint, Got: got}
		}
		return nil
	}
}

// PinError is the TLS verification failure of a certificate whose key is not
// the one the rendezvous announced.
type PinError struct {
	Want, Got string
}

func (e *PinError) Error() string {
	if e.Got == "" {
		return "peer: the other end presented no certificate; want key " + e.Want
	}
	return "peer: the other end's key " + e.Got + " is not the peer's " + e.Want
}

// tlsConfigs returns the client and server configurations of one link: both
// present cert and accept only the key with fingerprint peer. Certificate
// chains and names are not checked (they are self-signed); the pin is the
// whole of the verification.
func tlsConfigs(cert tls.Certificate, peer string) (client, server *tls.Config) {
	client = &tls.Config{
		Certificates:          []tls.Certificate{cert},
		InsecureSkipVerify:    true, // replaced by the pin below
		VerifyPeerCertificate: pinned(peer),
		NextProtos:            []string{alpn},
		ServerName:            "peer",
		MinVersion:            tls.VersionTLS13,
	}
	server = &tls.Config{
		Certificates:          []tls.Certificate{cert},
		ClientAuth:            tls.RequireAnyClientCert,
		VerifyPeerCertificate: pinned(peer),
		NextProtos:            []string{alpn},
		MinVersion:            tls.VersionTLS13,
	}
	return client, server
}
