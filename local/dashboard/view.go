package dashboard

import (
	"time"

	"github.com/mulletgo/mullet/store"
)

// stateView is what the page shows of the store: a redacted
// store.Snapshot.
type stateView struct {
	At          time.Time        `json:"at"`
	Inspectable bool             `json:"inspectable"`
	Error       string           `json:"error,omitempty"`
	Connections []connectionView `json:"connections"`
	Groups      []groupView      `json:"groups"`
	Barriers    []barrierView    `json:"barriers"`
	Sessions    []sessionView    `json:"sessions"`
	Streams     []streamView     `json:"streams"`
}

type connectionView struct {
	ID           string            `json:"id"`
	ConnectedAt  time.Time         `json:"connectedAt"`
	SourceIP     string            `json:"sourceIp"`
	UserAgent    string            `json:"userAgent,omitempty"`
	Authorizer   map[string]string `json:"authorizer,omitempty"`
	Identity     map[string]string `json:"identity,omitempty"`
	Session      string            `json:"session,omitempty"`
	Groups       []string          `json:"groups,omitempty"`
	State        any               `json:"state,omitempty"`
	StateVersion int64             `json:"stateVersion"`
	Expires      time.Time         `json:"expires"`
}

type groupView struct {
	Name     string         `json:"name"`
	Members  []string       `json:"members"`
	Presence []presenceView `json:"presence,omitempty"`
}

type presenceView struct {
	Session      string    `json:"session"`
	ConnectionID string    `json:"connectionId,omitempty"`
	Data         any       `json:"data,omitempty"`
	Expires      time.Time `json:"expires"`
}

type barrierView struct {
	Key      string        `json:"key"`
	Size     int           `json:"size"`
	Status   string        `json:"status"` // waiting, released or expired
	Arrivals []arrivalView `json:"arrivals"`
	Expires  time.Time     `json:"expires"`
}

type arrivalView struct {
	ConnectionID string    `json:"connectionId"`
	At           time.Time `json:"at"`
	Payload      any       `json:"payload,omitempty"`
}

type sessionView struct {
	ID           string            `json:"id"`
	ConnectionID string            `json:"connectionId,omitempty"`
	Connected    bool              `json:"connected"`
	Groups       []string          `json:"groups,omitempty"`
	Authorizer   map[string]string `json:"authorizer,omitempty"`
	State        any               `json:"state,omitempty"`
	Expires      time.Time         `json:"expires"`
}

type streamView struct {
	Name     string `json:"name"`
	Epoch    string `json:"epoch"`
	Offset   int64  `json:"offset"`
	Messages int    `json:"messages"`
}

// identityView is the identity API Gateway authenticated, minus secrets:
// an access key ID is shortened to its first four characters (enough to
// tell a placeholder from a real key); the API key is named by its ID, as
// the store keeps it.
func identityView(id store.Identity) map[string]string {
	m := map[string]string{}
	if id.AccessKey != "" {
		m["accessKey"] = id.AccessKey[:min(4, len(id.AccessKey))] + "…"
	}
	for k, v := range map[string]string{"accountId": id.AccountID, "caller": id.Caller, "user": id.User, "userArn": id.UserARN, "apiKeyId": id.APIKeyID} {
		if v != "" {
			m[k] = scrub(v)
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// newStateView redacts a snapshot for the page.
func newStateView(s store.Snapshot) stateView {
	v := stateView{At: s.At, Inspectable: true, Connections: []connectionView{}, Groups: []groupView{}, Barriers: []barrierView{}, Sessions: []sessionView{}, Streams: []streamView{}}
	groupsOf := map[string][]string{}
	for _, g := range s.Groups {
		for _, id := range g.Members {
			groupsOf[id] = append(groupsOf[id], g.Name)
		}
	}
	for _, c := range s.Connections {
		v.Connections = append(v.Connections, connectionView{
			ID: c.ID, ConnectedAt: c.ConnectedAt, SourceIP: c.SourceIP, UserAgent: scrub(c.UserAgent),
			Authorizer: redactMap(c.Authorizer), Identity: identityView(c.Identity), Session: c.Session,
			Groups: groupsOf[c.ID], State: redactData(c.State.Data), StateVersion: c.State.Version, Expires: c.Expires,
		})
	}
	presence := map[string][]presenceView{}
	for _, gp := range s.Presence {
		for _, p := range gp.Members {
			presence[gp.Group] = append(presence[gp.Group], presenceView{Session: p.Session, ConnectionID: p.ConnectionID, Data: redactData(p.Data), Expires: p.Expires})
		}
	}
	seen := map[string]bool{}
	for _, g := range s.Groups {
		seen[g.Name] = true
		v.Groups = append(v.Groups, groupView{Name: g.Name, Members: g.Members, Presence: presence[g.Name]})
	}
	for _, gp := range s.Presence {
		if !seen[gp.Group] {
			// Presence without a live member: everyone is away, in grace.
			v.Groups = append(v.Groups, groupView{Name: gp.Group, Members: []string{}, Presence: presence[gp.Group]})
		}
	}
	for _, b := range s.Barriers {
		bv := barrierView{Key: b.Key, Size: b.Size, Expires: b.Expires, Arrivals: []arrivalView{}}
		switch {
		case b.Complete():
			bv.Status = "released"
		case !s.At.Before(b.Expires):
			bv.Status = "expired"
		default:
			bv.Status = "waiting"
		}
		for _, a := range b.Arrivals {
			bv.Arrivals = append(bv.Arrivals, arrivalView{ConnectionID: a.ConnectionID, At: a.At, Payload: redactData(a.Payload)})
		}
		v.Barriers = append(v.Barriers, bv)
	}
	for _, x := range s.Sessions {
		sv := sessionView{ID: x.ID, ConnectionID: x.ConnectionID, Connected: x.ConnectionID != "", Authorizer: redactMap(x.Authorizer), State: redactData(x.State.Data), Expires: x.Expires}
		for g := range x.Groups {
			sv.Groups = append(sv.Groups, g)
		}
		sortStrings(sv.Groups)
		v.Sessions = append(v.Sessions, sv)
	}
	for _, st := range s.Streams {
		v.Streams = append(v.Streams, streamView{Name: st.Name, Epoch: st.Tail.Epoch, Offset: st.Tail.Offset, Messages: st.Messages})
	}
	return v
}
