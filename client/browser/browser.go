package browser

import (
	"bytes"
	_ "embed"
	"net/http"
	"time"
)

//go:embed mullet.js
var source []byte

// Source returns the text of mullet.js (a copy: the caller may change it).
func Source() []byte { return bytes.Clone(source) }

// Handler serves mullet.js, whatever the request's path, as a JavaScript
// module: mount it where pages import it from, e.g.
// mux.Handle("/mullet.js", browser.Handler()).
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		http.ServeContent(w, r, "mullet.js", time.Time{}, bytes.NewReader(source))
	})
}
