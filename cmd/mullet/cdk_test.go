package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestCDKArgs(t *testing.T) {
	tests := []struct {
		o    cdkOptions
		want []string
	}{
		{cdkOptions{verb: "synth"}, []string{"synth", "--no-notices", "--no-version-reporting", "--quiet"}},
		{cdkOptions{verb: "synth", out: "out", extra: []string{"--context", "k=v"}}, []string{"synth", "--no-notices", "--no-version-reporting", "--quiet", "--output", "out", "--context", "k=v"}},
		{cdkOptions{verb: "deploy"}, []string{"deploy", "--no-notices", "--no-version-reporting"}},
		{cdkOptions{verb: "deploy", profile: "prod", approve: true, extra: []string{"--outputs-file", "o.json"}}, []string{"deploy", "--no-notices", "--no-version-reporting", "--profile", "prod", "--require-approval", "never", "--outputs-file", "o.json"}},
		{cdkOptions{verb: "deploy", stage: "dev"}, []string{"deploy", "--no-notices", "--no-version-reporting", "--context", "mullet:stage=dev"}},
	}
	for _, tt := range tests {
		if got := cdkArgs(tt.o); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("cdkArgs(%+v) = %q, want %q", tt.o, got, tt.want)
		}
	}
	env := cdkEnv("deploy", []string{"PATH=/bin"})
	if !reflect.DeepEqual(env, []string{"PATH=/bin", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20"}) {
		t.Errorf("cdkEnv(deploy) = %q", env)
	}
	env = cdkEnv("synth", []string{"PATH=/bin"})
	if !reflect.DeepEqual(env, []string{"PATH=/bin", "AWS_EC2_METADATA_DISABLED=true", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20"}) {
		t.Errorf("cdkEnv(synth) = %q", env)
	}
}

// TestDropWriter: the jsii line goes, however the writes split it, with
// the newline after it; everything else stays, including a near miss.
func TestDropWriter(t *testing.T) {
	tests := []struct{ in, want string }{
		{jsiiWaitRace + "83 feature flags are not configured.\n", "83 feature flags are not configured.\n"},
		{"before\n" + jsiiWaitRace + "\nafter\n", "before\nafter\n"},
		{jsiiWaitRace, ""},
		{jsiiWaitRace + "\n", ""},
		{"Runtime process exited abnormally: exit status 1\n", "Runtime process exited abnormally: exit status 1\n"},
		{"Runtime process exited", "Runtime process exited"},
		{"x" + jsiiWaitRace + jsiiWaitRace + "y", "xy"},
	}
	for _, tt := range tests {
		for size := 1; size <= len(tt.in); size++ {
			var out strings.Builder
			w := &dropWriter{w: &out, drop: jsiiWaitRace}
			for in := tt.in; in != ""; {
				n := min(size, len(in))
				if k, err := w.Write([]byte(in[:n])); k != n || err != nil {
					t.Fatalf("Write = %d, %v", k, err)
				}
				in = in[n:]
			}
			w.Close()
			if out.String() != tt.want {
				t.Fatalf("%q in writes of %d: got %q, want %q", tt.in, size, out.String(), tt.want)
			}
		}
	}
}

// fakeTools makes a PATH directory with a stand-in node, and a project
// whose CDK app is in cdk/, and returns both.
func fakeTools(t *testing.T) (bin, project string) {
	t.Helper()
	bin = t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "node"), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	project = t.TempDir()
	if err := os.MkdirAll(filepath.Join(project, "cdk"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(project, "cdk", "cdk.json"), []byte(`{"app":"go run ."}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return bin, project
}

// fakeCDK is a cdk CLI that records its arguments, directory and jsii
// setting, and writes a template as cdk synth would.
const fakeCDK = `#!/bin/sh
echo "args: $*" > "$FAKE_CDK_LOG"
echo "dir: $(pwd)" >> "$FAKE_CDK_LOG"
echo "jsii: $JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION" >> "$FAKE_CDK_LOG"
printf 'Runtime process exited abnormally: waitid: no child processes' >&2
echo "cdk says: done" >&2
if [ "$1" = synth ]; then mkdir -p cdk.out && echo '{}' > cdk.out/Hello.template.json; fi
`

func TestSynthAndDeployWithAFakeCLI(t *testing.T) {
	bin, project := fakeTools(t)
	// The CLI is found in node_modules/.bin of the project, above cdk/.
	cdk := filepath.Join(project, "node_modules", ".bin", "cdk")
	if err := os.MkdirAll(filepath.Dir(cdk), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cdk, []byte(fakeCDK), 0o755); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(t.TempDir(), "cdk.log")
	t.Setenv("FAKE_CDK_LOG", log)
	t.Setenv("PATH", bin+string(os.PathListSeparator)+"/usr/bin:/bin")
	appDir, _ := filepath.EvalSymlinks(filepath.Join(project, "cdk"))

	code, stdout, stderr := runCLI(t, "synth", project, "--", "--context", "k=v")
	if code != 0 || !strings.Contains(stdout, filepath.Join("cdk.out", "Hello.template.json")) {
		t.Fatalf("synth: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	checkLog(t, log, "args: synth --no-notices --no-version-reporting --quiet --context k=v", "jsii: 20", "dir: ")
	if strings.Contains(stderr, "Runtime process exited abnormally") || !strings.Contains(stderr, "cdk says: done\n") {
		t.Fatalf("synth's stderr keeps jsii's spurious line or loses the rest:\n%s", stderr)
	}

	// deploy checks credentials first, then runs cdk deploy.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", "eu-west-1")
	code, stdout, stderr = runCLI(t, "deploy", "-yes", filepath.Join(project, "cdk"))
	if code != 0 {
		t.Fatalf("deploy: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	checkLog(t, log, "args: deploy --no-notices --no-version-reporting --require-approval never")
	code, stdout, stderr = runCLI(t, "deploy", "-stage", "dev", filepath.Join(project, "cdk"))
	if code != 0 {
		t.Fatalf("deploy -stage dev: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	checkLog(t, log, "args: deploy --no-notices --no-version-reporting --context mullet:stage=dev")
	data, _ := os.ReadFile(log)
	if dir, _ := filepath.EvalSymlinks(strings.TrimSpace(strings.SplitN(strings.SplitN(string(data), "dir: ", 2)[1], "\n", 2)[0])); dir != appDir {
		t.Fatalf("cdk ran in %s, want the CDK app's directory %s", dir, appDir)
	}
}

func checkLog(t *testing.T, path string, want ...string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if !strings.Contains(string(data), w) {
			t.Fatalf("the cdk CLI saw:\n%s\nwant %q", data, w)
		}
	}
}

func TestSynthErrors(t *testing.T) {
	bin, project := fakeTools(t)
	noNode := t.TempDir()
	noCDKApp := t.TempDir()
	tests := []struct {
		name string
		path string // PATH
		args []string
		code int
		want string
	}{
		{"missing DIR", bin, []string{"synth"}, 2, "missing DIR"},
		{"DIR does not exist", bin, []string{"synth", "/nonexistent/project"}, 1, "DIR /nonexistent/project: no such file"},
		{"DIR without a CDK app", bin, []string{"synth", noCDKApp}, 1, "has no CDK app: neither"},
		{"node missing", noNode, []string{"synth", project}, 1, "node is not installed"},
		{"no cdk CLI", bin, []string{"synth", project}, 1, "the AWS CDK CLI is not installed: no node_modules/.bin/cdk in"},
		{"no cdk CLI: the fix", bin, []string{"synth", project}, 1, "run `npm ci` at the repository root (its package.json pins aws-cdk), or `npm install aws-cdk@" + cdkCLIVersion + "`"},
		{"-cdk missing", bin, []string{"synth", "-cdk", "/nonexistent/cdk", project}, 1, "the cdk CLI /nonexistent/cdk does not exist"},
		{"bad flag", bin, []string{"synth", "-ckd", "x", project}, 2, "did you mean -cdk?"},
		{"help", bin, []string{"synth", "-h"}, 0, "Usage: mullet synth"},
		{"deploy help", bin, []string{"deploy", "-h"}, 0, "Usage: mullet deploy"},
		{"deploy missing DIR", bin, []string{"deploy"}, 2, "missing DIR"},
		{"deploy bad stage", bin, []string{"deploy", "-stage", "my_stage", project}, 2, `-stage "my_stage": use 1 to 64 letters, digits and hyphens`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PATH", tt.path)
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(stdout+stderr, tt.want) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q", code, tt.code, stdout, stderr, tt.want)
			}
		})
	}
}

// TestDeployNeedsCredentials: deploy stops before running cdk when the AWS
// configuration chain has no credentials.
func TestDeployNeedsCredentials(t *testing.T) {
	bin, project := fakeTools(t)
	cdk := filepath.Join(bin, "cdk")
	if err := os.WriteFile(cdk, []byte("#!/bin/sh\necho cdk ran\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	t.Setenv("PATH", bin)
	t.Setenv("HOME", home)
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(home, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_REGION", "eu-west-1")

	code, stdout, stderr := runCLI(t, "deploy", project)
	if code != 1 || !strings.Contains(stderr, "no AWS credentials found to deploy with: configure them with `aws configure`") || strings.Contains(stdout, "cdk ran") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}
