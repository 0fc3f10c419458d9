package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/mulletgo/mullet/asyncapi"
	"github.com/mulletgo/mullet/bootstrap"
	"github.com/mulletgo/mullet/manifest"
)

// The paths mullet dev serves the app's AsyncAPI document and TypeScript
// types at, outside the stage.
const (
	asyncAPIPath = "/asyncapi.json"
	typesPath    = "/asyncapi.ts"
)

func runAsyncAPI(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("asyncapi", `mullet asyncapi [-ts] [-o FILE] [-version V] [-local ws://127.0.0.1:8080/local] DIR

Builds the main package in DIR, reads its manifest and writes the AsyncAPI 3.0
document of its WebSocket API (JSON): one channel with the WebSockets
binding, an operation per route and declared push, the $connect parameters,
headers and authorization, and the control frames of the continuity
protocol. With -ts it writes TypeScript types of every frame instead, from
the same schemas. mullet dev serves both while it runs (`+asyncAPIPath+`,
`+typesPath+`), and mullet synth writes the document next to the templates.`, stderr)
	ts := fs.Bool("ts", false, "write TypeScript types of every frame instead of the AsyncAPI document")
	out := fs.String("o", "", "the file to write; default stdout")
	apiVersion := fs.String("version", "", "the document's info.version; default 1.0.0")
	localURL := fs.String("local", "", "also list a server at this WebSocket URL, e.g. mullet dev's ws://127.0.0.1:8080/local")
	if code, done := parse(fs, args, stderr); done {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(stderr, "mullet asyncapi: missing DIR, the directory of the app's main package; e.g. mullet asyncapi ./examples/chat\n")
		return 2
	}
	m, err := buildManifest(ctx, fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "mullet asyncapi: %v\n", err)
		return 1
	}
	opts := &asyncapi.Options{APIVersion: *apiVersion, LocalURL: *localURL}
	gen := asyncapi.Document
	if *ts {
		gen = asyncapi.TypeScript
	}
	data, err := gen(m, opts)
	if err != nil {
		fmt.Fprintf(stderr, "mullet asyncapi: %v\n", err)
		return 1
	}
	if *out == "" {
		_, err = stdout.Write(data)
	} else {
		err = os.WriteFile(*out, data, 0o644)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mullet asyncapi: %v\n", err)
		return 1
	}
	return 0
}

// buildManifest builds the main package in dir (the local build, as mullet
// dev does) and reads its manifest.
func buildManifest(ctx context.Context, dir string) (*manifest.Manifest, error) {
	if err := checkMainPackage(ctx, dir); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "mullet-asyncapi-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "app")
	if err := bootstrap.Build(ctx, dir, bin, &bootstrap.Options{Local: true}); err != nil {
		return nil, compilerOutput(err)
	}
	m, _, err := bootstrap.ReadManifest(ctx, bin)
	return m, err
}

// writeAsyncAPI writes the AsyncAPI document of the app in mainDir to
// outDir/NAME.asyncapi.json and returns its path: what mullet synth adds
// next to the templates.
func writeAsyncAPI(ctx context.Context, mainDir, outDir string) (string, error) {
	m, err := buildManifest(ctx, mainDir)
	if err != nil {
		return "", err
	}
	doc, err := asyncapi.Document(m, nil)
	if err != nil {
		return "", err
	}
	path := filepath.Join(outDir, m.Name+".asyncapi.json")
	return path, os.WriteFile(path, doc, 0o644)
}

// asyncAPIHandler serves the AsyncAPI document and TypeScript types of m
// (with a server at localURL) and passes every other request to next (nil:
// 404).
func asyncAPIHandler(m *manifest.Manifest, localURL string, next http.Handler) (http.Handler, error) {
	opts := &asyncapi.Options{LocalURL: localURL}
	doc, err := asyncapi.Document(m, opts)
	if err != nil {
		return nil, err
	}
	ts, err := asyncapi.TypeScript(m, opts)
	if err != nil {
		return nil, err
	}
	if next == nil {
		next = http.NotFoundHandler()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case asyncAPIPath:
			w.Header().Set("Content-Type", "application/json")
			w.Write(doc)
		case typesPath:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write(ts)
		default:
			next.ServeHTTP(w, r)
		}
	}), nil
}
