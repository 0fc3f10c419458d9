package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// command is one subcommand of mullet.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"new", "create a project: an app with one route, its tests, a CDK app", runNew},
		{"dev", "run an app locally behind the API Gateway emulator, rebuilding on change", runDev},
		{"connect", "talk to a websocket endpoint: frames from stdin or -send, replies printed", runConnect},
		{"post", "push a frame to a connection through @connections (or -get, -delete it)", runPost},
		{"asyncapi", "write an app's AsyncAPI 3.0 document (or, with -ts, TypeScript types of its frames)", runAsyncAPI},
		{"synth", "synthesize an app's CloudFormation template with the cdk CLI", runSynth},
		{"deploy", "deploy an app to AWS with the cdk CLI", runDeploy},
		{"bench", "load-test a websocket endpoint, side by side with a bare echo server", runBench},
		{"cost", "what a million chat messages and a million pairings cost in AWS, at dated list prices", runCost},
		{"version", "print the mullet version", runVersion},
	}
}

// version is the version of this build of mullet.
const version = "v0.1.0-dev"

// run is the whole CLI: it returns the exit code and never exits itself.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	name := args[0]
	if name == "bench-server" {
		return runBenchServer(ctx, args[1:], stdout, stderr)
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	names := make([]string, 0, len(commands()))
	for _, c := range commands() {
		names = append(names, c.name)
	}
	fmt.Fprintf(stderr, "mullet: unknown command %q", name)
	if s := closest(name, names); s != "" {
		fmt.Fprintf(stderr, "; did you mean %q?", s)
	}
	fmt.Fprintf(stderr, "\nRun 'mullet -h' for the list of commands.\n")
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "mullet: serverless websocket apps on API Gateway, Lambda and DynamoDB\n\nUsage:\n  mullet <command> [flags] [args]\n\nCommands:\n")
	cs := commands()
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'mullet <command> -h' for a command's flags.\n")
}

func runVersion(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("version", "mullet version", stderr)
	if code, done := parse(fs, args, stderr); done {
		return code
	}
	fmt.Fprintln(stdout, "mullet", version)
	return 0
}

// newFlagSet returns a FlagSet whose errors are returned, not fatal.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s\n", synopsis)
		if hasFlags(fs) {
			fmt.Fprintf(stderr, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// parse parses args; done reports that the command should return code at
// once (help was asked for, or a flag was wrong, in which case the closest
// valid flag is named). Flags may follow positional arguments, as in
// `mullet connect URL -send FRAME`; everything after "--" is positional.
// fs.Args() holds the positional arguments afterwards.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer) (code int, done bool) {
	return parseWith(fs, args, stderr, nil)
}

// parseWith is parse for a command some of whose positional arguments may
// begin with '-': an argument for which positional reports true is never
// taken for a flag. mullet post uses it for connection IDs, one in 64 of
// which begins with '-'.
func parseWith(fs *flag.FlagSet, args []string, stderr io.Writer, positional func(arg string) bool) (code int, done bool) {
	// fs.Parse would print the usage itself on -h and on errors; it is
	// printed once, below.
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := parseInterleaved(fs, args, positional)
	fs.SetOutput(out)
	fs.Usage = usage
	if err == nil {
		return 0, false
	}
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return 0, true
	}
	msg := err.Error()
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if bad, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		msg = fmt.Sprintf("unknown flag -%s", bad)
		if s := closest(strings.TrimLeft(bad, "-"), names); s != "" {
			msg += fmt.Sprintf("; did you mean -%s?", s)
		} else {
			msg += fmt.Sprintf("; if -%s is an argument, not a flag, put -- before it", bad)
		}
	}
	fmt.Fprintf(stderr, "mullet %s: %s\n", fs.Name(), msg)
	fs.Usage()
	return 2, true
}

// parseInterleaved parses flags wherever they are among args, and leaves
// the positional arguments, in order, in fs.Args(). An argument for which
// isPositional reports true is positional even if it begins with '-'.
func parseInterleaved(fs *flag.FlagSet, args []string, isPositional func(string) bool) error {
	// Hide the arguments that only look like flags from fs.Parse behind
	// placeholders no shell can produce, and put them back at the end.
	var held []string
	if isPositional != nil {
		args = slices.Clone(args)
		for i, a := range args {
			if a == "--" {
				break
			}
			if strings.HasPrefix(a, "-") && isPositional(a) {
				args[i] = heldPrefix + strconv.Itoa(len(held))
				held = append(held, a)
			}
		}
	}
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		// fs.Parse stops at the first non-flag, or after a "--" that it
		// consumes: then everything left is positional.
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	for i, a := range positional {
		if k, ok := strings.CutPrefix(a, heldPrefix); ok {
			n, _ := strconv.Atoi(k)
			positional[i] = held[n]
		}
	}
	// Leave the positional arguments in fs.Args().
	return fs.Parse(append([]string{"--"}, positional...))
}

// heldPrefix begins the placeholder of an argument parseInterleaved hides
// from fs.Parse.
const heldPrefix = "\x00held:"

// closest returns the candidate nearest to s by edit distance, if it is
// close enough to be a plausible typo.
func closest(s string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		if d := editDistance(s, c); bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	if bestD < 0 || bestD > max(2, len(s)/2) {
		return ""
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
