package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"
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
	return append(args, o.extra...)
}

// cdkEnv returns the cdk CLI's environment: environ and the variables that
// keep jsii quiet about the node version.
func cdkEnv(environ []string) []string {
	env := append([]string(nil), environ...)
	return append(env, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20")
}

func runSynth(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("synth", `mullet synth [-cdk PATH] [-out DIR] DIR [-- CDK-ARGS...]

Synthesizes the CloudFormation template of the CDK app of the project in DIR
(DIR itself if it holds cdk.json, else DIR/cdk) with the AWS CDK CLI, offline
and without an AWS account, and names the template files it wrote.
The cdk CLI is node_modules/.bin/cdk in DIR or a directory above it, else
cdk on PATH; install it with: npm install aws-cdk@`+cdkCLIVersion+`.
Arguments after -- go to cdk as they are.`, stderr)
	cli := fs.String("cdk", "", "the cdk CLI to run; default: node_modules/.bin/cdk found from DIR upwards, else cdk on PATH")
	out := fs.String("out", "", "the cloud assembly directory, relative to the CDK app's directory; default cdk.out")
	if code, done := parse(fs, args, stderr); done {
		return code
	}
	return runCDK(ctx, fs.Args(), cdkOptions{verb: "synth", out: *out}, *cli, stdout, stderr)
}

func runDeploy(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("deploy", `mullet deploy [-profile NAME] [-yes] [-cdk PATH] DIR [-- CDK-ARGS...]

Deploys the CDK app of the project in DIR (DIR itself if it holds cdk.json,
else DIR/cdk) to AWS with the AWS CDK CLI: the API Gateway WebSocket API,
its Lambda function, its DynamoDB table. It needs AWS credentials and a
region, and an account bootstrapped once with: npx cdk bootstrap.
The cdk CLI is found as for mullet synth. Arguments after -- go to cdk as
they are, e.g. -- --outputs-file outputs.json.`, stderr)
	cli := fs.String("cdk", "", "the cdk CLI to run; default: node_modules/.bin/cdk found from DIR upwards, else cdk on PATH")
	profile := fs.String("profile", "", "AWS shared configuration profile")
	approve := fs.Bool("yes", false, "do not ask for approval of IAM and security group changes")
	if code, done := parse(fs, args, stderr); done {
		return code
	}
	return runCDK(ctx, fs.Args(), cdkOptions{verb: "deploy", profile: *profile, approve: *approve}, *cli, stdout, stderr)
}

func runCDK(ctx context.Context, args []string, o cdkOptions, cli string, stdout, stderr io.Writer) int {
	name := "mullet " + o.verb
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
	cmd.Env = cdkEnv(os.Environ())
	cmd.Stdin = os.Stdin
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
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
