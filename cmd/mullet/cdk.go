package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"

	"github.com/mulletgo/mullet/infra/cdkcontext"
)

// cdkCLIVersion is the version of the AWS CDK CLI (npm package aws-cdk)
// that reads what this module's CDK library (aws-cdk-go/awscdk/v2) writes.
const cdkCLIVersion = "2.1148.1"

// cdkOptions are what mullet synth and deploy pass to the cdk CLI.
type cdkOptions struct {
	// verb is "synth" or "deploy".
	verb string
	// out is the cloud assembly directory (cdk -o); empty: cdk.out.
	out string
	// profile is the AWS shared configuration profile; empty: default.
	profile string
	// approve skips cdk deploy's approval prompt for security changes.
	approve bool
	// stage is the API Gateway stage, passed as the CDK context
	// cdkcontext.Stage; empty: the CDK app's default.
	stage string
	// extra are arguments given after "--", passed as they are.
	extra []string
}

// cdkArgs returns the cdk CLI's arguments for o.
func cdkArgs(o cdkOptions) []string {
	args := []string{o.verb, "--no-notices", "--no-version-reporting"}
	if o.verb == "synth" {
		// The template goes to the cloud assembly; mullet synth names
		// the files rather than print every template.
		args = append(args, "--quiet")
	}
	if o.out != "" {
		args = append(args, "--output", o.out)
	}
	if o.profile != "" {
		args = append(args, "--profile", o.profile)
	}
	if o.verb == "deploy" && o.approve {
		args = append(args, "--require-approval", "never")
	}
	if o.stage != "" {
		args = append(args, "--context", cdkcontext.Stage+"="+o.stage)
	}
	return append(args, o.extra...)
}

// cdkEnv returns the cdk CLI's environment for verb: environ and the
// variables that keep jsii quiet about the node version and, for synth,
// which needs no AWS account, keep the SDK away from the EC2 instance
// metadata service.
func cdkEnv(verb string, environ []string) []string {
	env := append([]string(nil), environ...)
	if verb == "synth" && !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "AWS_EC2_METADATA_DISABLED=") }) {
		env = append(env, "AWS_EC2_METADATA_DISABLED=true")
	}
	return append(env, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20")
}

// jsiiWaitRace is what jsii-runtime-go (v1.139.0) prints, with no newline,
// when the CDK app's jsii.Close() reaps the node child process before
// jsii's own goroutine waiting on it does: two concurrent Waits on one
// process, the loser getting ECHILD. The node process exited normally and
// the app's exit code is 0; the line reads like a crash, so mullet synth
// and deploy drop exactly it (and nothing else jsii prints, such as a real
// exit status).
const jsiiWaitRace = "Runtime process exited abnormally: waitid: no child processes"

// dropWriter writes to w everything but each occurrence of drop and the
// newline right after it, if any. Close writes what it held back.
type dropWriter struct {
	w       io.Writer
	drop    string
	pending []byte // a tail that may be the start of drop (or drop itself, awaiting its newline)
}

func (d *dropWriter) Write(p []byte) (int, error) {
	buf := append(d.pending, p...)
	d.pending = nil
	var out []byte
	for len(buf) > 0 {
		i := bytes.Index(buf, []byte(d.drop))
		if i >= 0 {
			out = append(out, buf[:i]...)
			rest := buf[i+len(d.drop):]
			if len(rest) == 0 {
				// A newline may follow in the next write.
				d.pending = append(d.pending, d.drop...)
				buf = nil
				break
			}
			if rest[0] == '\n' {
				rest = rest[1:]
			}
			buf = rest
			continue
		}
		// Hold back a tail that could begin drop.
		keep := 0
		for k := min(len(d.drop)-1, len(buf)); k > 0; k-- {
			if bytes.HasPrefix([]byte(d.drop), buf[len(buf)-k:]) {
				keep = k
				break
			}
		}
		out = append(out, buf[:len(buf)-keep]...)
		d.pending = append(d.pending, buf[len(buf)-keep:]...)
		buf = nil
	}
	if len(out) > 0 {
		if _, err := d.w.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Close writes what Write held back, except a whole drop.
func (d *dropWriter) Close() error {
	p := d.pending
	d.pending = nil
	if len(p) == 0 || string(p) == d.drop {
		return nil
	}
	_, err := d.w.Write(p)
	return err
}

func runSynth(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("synth", `mullet synth [-stage NAME] [-cdk PATH] [-out DIR] DIR [-- CDK-ARGS...]

Synthesizes the CloudFormation template of the CDK app of the project in DIR
(DIR itself if it holds cdk.json, else DIR/cdk) with the AWS CDK CLI, offline
and without an AWS account, and names the template files it wrote.
The cdk CLI is node_modules/.bin/cdk in DIR or a directory above it, else
cdk on PATH; install it with: npm install aws-cdk@`+cdkCLIVersion+`.
Arguments after -- go to cdk as they are.`, stderr)
	cli := fs.String("cdk", "", "the cdk CLI to run; default: node_modules/.bin/cdk found from DIR upwards, else cdk on PATH")
	out := fs.String("out", "", "the cloud assembly directory, relative to the CDK app's directory; default cdk.out")
	stage := fs.String("stage", "", stageUsage)
	if code, done := parse(fs, args, stderr); done {
		return code
	}
	return runCDK(ctx, fs.Args(), cdkOptions{verb: "synth", out: *out, stage: *stage}, *cli, stdout, stderr)
}

func runDeploy(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("deploy", `mullet deploy [-stage NAME] [-profile NAME] [-yes] [-cdk PATH] DIR [-- CDK-ARGS...]

Deploys the CDK app of the project in DIR (DIR itself if it holds cdk.json,
else DIR/cdk) to AWS with the AWS CDK CLI: the API Gateway WebSocket API,
its Lambda function, its DynamoDB table. It needs AWS credentials and a
region, and an account bootstrapped once with: npx cdk bootstrap.
The cdk CLI is found as for mullet synth. Arguments after -- go to cdk as
they are, e.g. -- --outputs-file outputs.json.`, stderr)
	cli := fs.String("cdk", "", "the cdk CLI to run; default: node_modules/.bin/cdk found from DIR upwards, else cdk on PATH")
	profile := fs.String("profile", "", "AWS shared configuration profile")
	approve := fs.Bool("yes", false, "do not ask for approval of IAM and security group changes")
	stage := fs.String("stage", "", stageUsage)
	if code, done := parse(fs, args, stderr); done {
		return code
	}
	return runCDK(ctx, fs.Args(), cdkOptions{verb: "deploy", profile: *profile, approve: *approve, stage: *stage}, *cli, stdout, stderr)
}

// stageUsage is the -stage flag's help of synth and deploy.
const stageUsage = "the API Gateway stage (letters, digits, hyphens), passed to the CDK app as the context " + cdkcontext.Stage + "; infra.Synth deploys a stage other than prod as its own stack, STACK-NAME; default: the CDK app's (prod)"

func runCDK(ctx context.Context, args []string, o cdkOptions, cli string, stdout, stderr io.Writer) int {
	name := "mullet " + o.verb
	if o.stage != "" && !cdkcontext.ValidStage(o.stage) {
		fmt.Fprintf(stderr, "%s: -stage %q: use 1 to 64 letters, digits and hyphens, starting with a letter or digit (it becomes part of the stack name)\n", name, o.stage)
		return 2
	}
	if len(args) == 0 {
		fmt.Fprintf(stderr, "%s: missing DIR, the project directory (with cdk/cdk.json) or the CDK app's directory; e.g. %s .\n", name, name)
		return 2
	}
	dir := args[0]
	o.extra = args[1:]
	appDir, err := cdkAppDir(dir)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	if _, err := exec.LookPath("node"); err != nil {
		fmt.Fprintf(stderr, "%s: node is not installed (or not on PATH); the cdk CLI runs on node: install node 20 or later\n", name)
		return 1
	}
	cdk, err := findCDK(cli, appDir)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	if o.verb == "deploy" {
		if err := checkAWSCredentials(ctx, o.profile); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return 1
		}
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, cdk, cdkArgs(o)...)
	cmd.Dir = appDir
	cmd.Env = cdkEnv(o.verb, os.Environ())
	cmd.Stdin = os.Stdin
	errOut := &dropWriter{w: stderr, drop: jsiiWaitRace}
	cmd.Stdout, cmd.Stderr = stdout, errOut
	err = cmd.Run()
	errOut.Close()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			fmt.Fprintf(stderr, "%s: cdk %s failed (%v)\n", name, o.verb, exit)
		} else {
			fmt.Fprintf(stderr, "%s: run %s: %v\n", name, cdk, err)
		}
		return 1
	}
	if o.verb == "synth" {
		out := o.out
		if out == "" {
			out = "cdk.out"
		}
		if !filepath.IsAbs(out) {
			out = filepath.Join(appDir, out)
		}
		templates, _ := filepath.Glob(filepath.Join(out, "*.template.json"))
		sort.Strings(templates)
		fmt.Fprintf(stdout, "%s: synthesized in %v:\n", name, time.Since(start).Round(100*time.Millisecond))
		for _, t := range templates {
			fmt.Fprintf(stdout, "  %s\n", t)
		}
		// The AsyncAPI document of the app, next to the templates; the
		// app's main package is the project directory (the CDK app's
		// parent when DIR is the CDK app).
		mainDir := dir
		if abs, _ := filepath.Abs(dir); abs == appDir {
			mainDir = filepath.Dir(appDir)
		}
		if path, err := writeAsyncAPI(ctx, mainDir, out); err != nil {
			fmt.Fprintf(stderr, "%s: no AsyncAPI document written: %v\n", name, err)
		} else {
			fmt.Fprintf(stdout, "  %s\n", path)
		}
	}
	return 0
}

// cdkAppDir returns the directory of the CDK app of dir: dir itself if it
// holds cdk.json, else dir/cdk.
func cdkAppDir(dir string) (string, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("DIR %s: %w", dir, errors.Unwrap(err))
	}
	if !info.IsDir() {
		return "", fmt.Errorf("DIR %s is a file; give the project directory", dir)
	}
	for _, d := range []string{dir, filepath.Join(dir, "cdk")} {
		if _, err := os.Stat(filepath.Join(d, "cdk.json")); err == nil {
			return filepath.Abs(d)
		}
	}
	return "", fmt.Errorf("DIR %s has no CDK app: neither %s nor %s exists; give the project directory (mullet new writes cdk/cdk.json) or the CDK app's own", dir, filepath.Join(dir, "cdk.json"), filepath.Join(dir, "cdk", "cdk.json"))
}

// findCDK returns the cdk CLI: cli if given, else node_modules/.bin/cdk in
// dir or the nearest directory above it that has one, else cdk on PATH.
func findCDK(cli, dir string) (string, error) {
	install := fmt.Sprintf("run `npm ci` at the repository root (its package.json pins aws-cdk), or `npm install aws-cdk@%s` in the project", cdkCLIVersion)
	if cli != "" {
		if _, err := os.Stat(cli); err != nil {
			return "", fmt.Errorf("the cdk CLI %s does not exist; %s", cli, install)
		}
		return filepath.Abs(cli)
	}
	for d := dir; ; {
		p := filepath.Join(d, "node_modules", ".bin", "cdk")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	if p, err := exec.LookPath("cdk"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("the AWS CDK CLI is not installed: no node_modules/.bin/cdk in %s or above, and no cdk on PATH; %s", dir, install)
}

// checkAWSCredentials fails with advice when the AWS configuration chain
// has no credentials or no region, before cdk deploy would.
func checkAWSCredentials(ctx context.Context, profile string) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	opts := []func(*config.LoadOptions) error{config.WithLogger(logging.Nop{})}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return fmt.Errorf("load AWS configuration: %v; %s", err, credentialsHint)
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return fmt.Errorf("no AWS credentials found to deploy with: %s (%s)", credentialsHint, firstLine(err.Error()))
	}
	if cfg.Region == "" {
		return errors.New("no AWS region to deploy to: set AWS_REGION (or region in ~/.aws/config)")
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
