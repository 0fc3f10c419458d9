package framework_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mulletgo/mullet/framework"
)

// badDeclaration is a mistake in an app's declaration: it must panic at
// setup, before anything is served, with a message that names the problem
// and says what to do.
type badDeclaration struct {
	input string   // the mistake
	want  []string // substrings of the panic message
	fn    func()
}

type noState = struct{}

func nop(ctx context.Context, c *framework.Conn[noState], _ struct{}) error { return nil }

func noRelease(framework.Participant[string], []framework.Participant[string]) any { return nil }

func badDeclarations() []badDeclaration {
	rse := func(expr string) func() {
		return func() { framework.New[noState]("x", &framework.Options{RouteSelectionExpression: expr}) }
	}
	handleT := func(fn func(app *framework.App[noState])) func() {
		return func() { fn(framework.New[noState]("x", nil)) }
	}
	return []badDeclaration{
		{"app without a name", []string{"needs a name", `framework.New[State]("chat", nil)`}, func() { framework.New[noState]("", nil) }},
		{"app name of blanks", []string{"needs a name"}, func() { framework.New[noState]("  ", nil) }},
		{"route selection expression on a header (`$request.header.x`)", []string{"bad RouteSelectionExpression", "must start with request.body."}, rse("$request.header.x")},
		{"route selection expression with an unclosed `${`", []string{"unclosed '${'", "close it with '}'"}, rse("${request.body.x")},
		{"route selection expression with a stray `$`", []string{"stray '$'", "${request.body.field}"}, rse("a$b${request.body.x}")},
		{"route selection expression with an empty field name", []string{"empty field name"}, rse("$request.body..x")},
		{"route selection expression that reads no field", []string{"refers to no field", "$request.body.<field>"}, rse("hello")},
		{"state type that JSON cannot encode (`chan int`)", []string{"state type chan int cannot be stored as JSON", "without channels or funcs"}, func() { framework.New[chan int]("x", nil) }},
		{"empty route key", []string{"must be non-empty"}, handleT(func(app *framework.App[noState]) { framework.Handle(app, "", nop, nil) })},
		{"custom route named `$connect`", []string{"must not start with '$'", "use OnConnect"}, handleT(func(app *framework.App[noState]) { framework.Handle(app, "$connect", nop, nil) })},
		{"custom route named `$default`", []string{"must not start with '$'", "Default"}, handleT(func(app *framework.App[noState]) { framework.Handle(app, "$default", nop, nil) })},
		{"nil route handler", []string{`Handle("a"): nil handler`}, handleT(func(app *framework.App[noState]) { framework.Handle[noState, struct{}](app, "a", nil, nil) })},
		{"routes whose keys give one model name (`say-hi`, `sayHi`)", []string{`routes "say-hi" and "sayHi"`, `model name "SayHiModel"`, "rename one"}, handleT(func(app *framework.App[noState]) {
			framework.Handle(app, "say-hi", nop, nil)
			framework.Handle(app, "sayHi", nop, nil)
		})},
		{"route declared twice", []string{`route "a" is declared twice`}, handleT(func(app *framework.App[noState]) {
			framework.Handle(app, "a", nop, nil)
			framework.Handle(app, "a", nop, nil)
		})},
		{"payload type with no schema (`chan int`)", []string{"cannot derive a schema from chan int", "framework.RouteOptions{Schema"}, handleT(func(app *framework.App[noState]) {
			framework.Handle(app, "a", func(ctx context.Context, c *framework.Conn[noState], _ chan int) error { return nil }, nil)
		})},
		{"payload field of func type", []string{"field F: unsupported type func()", "framework.RouteOptions{Schema"}, handleT(func(app *framework.App[noState]) {
			type T struct {
				F func() `json:"f"`
			}
			framework.Handle(app, "a", func(ctx context.Context, c *framework.Conn[noState], _ T) error { return nil }, nil)
		})},
		{"recursive payload type", []string{"recursive type", "framework.RouteOptions{Schema"}, handleT(func(app *framework.App[noState]) {
			type N struct {
				Next *N `json:"next"`
			}
			framework.Handle(app, "a", func(ctx context.Context, c *framework.Conn[noState], _ N) error { return nil }, nil)
		})},
		{"schema tag with a bad number (`minLength=abc`)", []string{`keyword "minLength": value "abc" is not a non-negative integer`}, handleT(func(app *framework.App[noState]) {
			type T struct {
				A string `json:"a" schema:"minLength=abc"`
			}
			framework.Handle(app, "a", func(ctx context.Context, c *framework.Conn[noState], _ T) error { return nil }, nil)
		})},
		{"schema tag with a bad pattern (`pattern=[a-`)", []string{`keyword "pattern": invalid regular expression`}, handleT(func(app *framework.App[noState]) {
			type T struct {
				A string `json:"a" schema:"pattern=[a-"`
			}
			framework.Handle(app, "a", func(ctx context.Context, c *framework.Conn[noState], _ T) error { return nil }, nil)
		})},
		{"schema tag with an unknown keyword (`minlen=3`)", []string{`keyword "minlen": unknown keyword`}, handleT(func(app *framework.App[noState]) {
			type T struct {
				A string `json:"a" schema:"minlen=3"`
			}
			framework.Handle(app, "a", func(ctx context.Context, c *framework.Conn[noState], _ T) error { return nil }, nil)
		})},
		{"payload declares the selection field as a non-string (`Action int`)", []string{`declares field "action" as int`, "make it a string"}, handleT(func(app *framework.App[noState]) {
			type T struct {
				Action int `json:"action"`
			}
			framework.Handle(app, "a", func(ctx context.Context, c *framework.Conn[noState], _ T) error { return nil }, nil)
		})},
		{"`$default` declared twice", []string{`route "$default" is declared twice`}, handleT(func(app *framework.App[noState]) {
			d := func(ctx context.Context, c *framework.Conn[noState], b []byte) error { return nil }
			app.Default(d, nil)
			app.Default(d, nil)
		})},
		{"nil `$default` handler", []string{"Default: nil handler"}, handleT(func(app *framework.App[noState]) { app.Default(nil, nil) })},
		{"nil `$connect` handler", []string{"$connect: nil handler"}, handleT(func(app *framework.App[noState]) { app.OnConnect(nil) })},
		{"`$connect` declared twice", []string{`route "$connect" is declared twice`}, handleT(func(app *framework.App[noState]) {
			f := func(ctx context.Context, c *framework.Conn[noState]) error { return nil }
			app.OnConnect(f)
			app.OnConnect(f)
		})},
		{"`$disconnect` declared twice", []string{`route "$disconnect" is declared twice`}, handleT(func(app *framework.App[noState]) {
			f := func(ctx context.Context, c *framework.Conn[noState]) error { return nil }
			app.OnDisconnect(f)
			app.OnDisconnect(f)
		})},
		{"middleware added after a route", []string{"Use must be called before any route", "move app.Use above"}, handleT(func(app *framework.App[noState]) {
			framework.Handle(app, "a", nop, nil)
			app.Use(func(h framework.Handler) framework.Handler { return h })
		})},
		{"nil authorizer", []string{"Authorize: nil authorizer"}, handleT(func(app *framework.App[noState]) { app.Authorize(nil, nil) })},
		{"two authorizers", []string{"Authorize is called twice", "one $connect authorizer"}, handleT(func(app *framework.App[noState]) {
			a := func(context.Context, *framework.ConnectRequest) (framework.AuthContext, error) { return nil, nil }
			app.Authorize(a, nil)
			app.Authorize(a, nil)
		})},
		{"Lambda authorizer of an app without an authorizer", []string{"declares no authorizer", "call app.Authorize first"}, handleT(func(app *framework.App[noState]) { app.LambdaAuthorizer() })},
		{"barrier of negative size", []string{"Size must be at least 2, got -1"}, handleT(func(app *framework.App[noState]) {
			framework.NewBarrier(app, "b", noRelease, &framework.BarrierOptions{Size: -1})
		})},
		{"barrier of size 1", []string{"Size must be at least 2, got 1"}, handleT(func(app *framework.App[noState]) {
			framework.NewBarrier(app, "b", noRelease, &framework.BarrierOptions{Size: 1})
		})},
		{"barrier without a release func", []string{"release func is nil"}, handleT(func(app *framework.App[noState]) {
			framework.NewBarrier[noState, string](app, "b", nil, &framework.BarrierOptions{Size: 2})
		})},
		{"barrier declared twice", []string{`NewBarrier("b"): declared twice`}, handleT(func(app *framework.App[noState]) {
			framework.NewBarrier(app, "b", noRelease, &framework.BarrierOptions{Size: 2})
			framework.NewBarrier(app, "b", noRelease, &framework.BarrierOptions{Size: 2})
		})},
	}
}

// TestBadDeclarationMatrix: every mistake panics at setup with a message
// that names it and says what to fix.
func TestBadDeclarationMatrix(t *testing.T) {
	for _, tt := range badDeclarations() {
		t.Run(tt.input, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil {
					t.Fatal("no panic")
				}
				for _, w := range tt.want {
					if !strings.Contains(fmt.Sprint(r), w) {
						t.Errorf("panic %q does not say %q", r, w)
					}
				}
			}()
			tt.fn()
		})
	}
}

// TestSelectionFieldsThatCanHoldTheKey: the check of the selection field
// leaves alone the declarations that work.
func TestSelectionFieldsThatCanHoldTheKey(t *testing.T) {
	app := framework.New[noState]("x", nil)
	type withString struct {
		Action string `json:"action"`
	}
	type withNumber struct {
		Action int `json:"action"`
	}
	framework.Handle(app, "a", func(ctx context.Context, c *framework.Conn[noState], _ withString) error { return nil }, nil)
	framework.Handle(app, "5", func(ctx context.Context, c *framework.Conn[noState], _ withNumber) error { return nil }, nil)
	nested := framework.New[noState]("y", &framework.Options{RouteSelectionExpression: "$request.body.action.name"})
	type withObject struct {
		Action struct {
			Name string `json:"name"`
		} `json:"action"`
	}
	framework.Handle(nested, "a", func(ctx context.Context, c *framework.Conn[noState], _ withObject) error { return nil }, nil)
}

// TestReliabilityDocListsEveryDeclaration keeps docs/reliability.md in
// step with the declaration matrix.
func TestReliabilityDocListsEveryDeclaration(t *testing.T) {
	if os.Getenv("MULLET_PRINT_MATRIX") != "" {
		for _, tt := range badDeclarations() {
			t.Logf("| declaration | %s | panic: %s | `TestBadDeclarationMatrix` |", tt.input, strings.Join(tt.want, " … "))
		}
	}
	doc, err := os.ReadFile(filepath.Join("..", "docs", "reliability.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range badDeclarations() {
		if !strings.Contains(string(doc), "| "+tt.input+" |") {
			t.Errorf("docs/reliability.md has no row for the declaration %q", tt.input)
		}
	}
}
