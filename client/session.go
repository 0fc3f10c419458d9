package client

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
)

// Query string parameters of a session (docs/protocol.md 2.1).
const (
	paramSession = "mullet_session"
	paramSecret  = "mullet_secret"
	paramNext    = "mullet_next"
)

// sessionGroup is the name of a session's own stream.
const sessionGroup = "$session"

// maxCandidates bounds the secrets kept whose upgrade had no answer.
const maxCandidates = 32

// keys is a client's side of a session: its ID, its current secret and
// the proposed next secrets of upgrades whose answer was lost.
type keys struct {
	id     string
	secret string // "" before the session exists
	// candidates are secrets proposed by attempts with no answer: the
	// server may have rotated to one of them (docs/protocol.md 2.2).
	candidates []string
	// tried are the secrets refused since the last success, and rounds
	// counts the times all of them were tried again.
	tried  []string
	rounds int
}

// maxRounds is how many times a client tries all its secrets again, after
// a backoff, before it takes the session as lost: a refusal may come from
// a write that raced on the server, and a consumed secret stays refused.
const maxRounds = 2

func newKeys() keys { return keys{id: randomToken(16)} }

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// present adds the session to q and returns the proposed next secret.
func (k *keys) present(q url.Values) (next string) {
	next = randomToken(32)
	q.Set(paramSession, k.id)
	q.Set(paramNext, hashSecret(next))
	if k.secret != "" {
		q.Set(paramSecret, k.secret)
	} else {
		q.Del(paramSecret)
	}
	return next
}

// accepted: the upgrade succeeded, the server rotated to next.
func (k *keys) accepted(next string) {
	k.secret, k.candidates, k.tried, k.rounds = next, nil, nil, 0
}

// unanswered: the upgrade failed without an answer from the server.
func (k *keys) unanswered(next string) {
	if len(k.candidates) < maxCandidates {
		k.candidates = append(k.candidates, next)
	}
}

// refused: the server refused the secret (403 on a resume, 409 on a
// create). It moves to the next candidate and reports true, or reports
// false when none is left: the session is lost.
func (k *keys) refused() bool {
	if len(k.candidates) == 0 {
		return false
	}
	k.tried = append(k.tried, k.secret)
	k.secret, k.candidates = k.candidates[0], k.candidates[1:]
	return true
}

// again puts every refused secret back to be tried after a backoff, at
// most maxRounds times.
func (k *keys) again() bool {
	if k.rounds >= maxRounds || k.secret == "" {
		return false
	}
	k.rounds++
	all := append(k.tried, k.secret)
	k.secret, k.candidates, k.tried = all[0], all[1:], nil
	return true
}

// SessionState is what a client needs to resume its session in another
// process: pass it as Options.Resume. It holds a secret: store it as one.
type SessionState struct {
	ID     string `json:"id"`
	Secret string `json:"secret,omitempty"`
	// Candidates are proposed secrets whose upgrade had no answer.
	Candidates []string            `json:"candidates,omitempty"`
	Positions  map[string]Position `json:"positions,omitempty"`
}
