package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runCLI runs gatehouse with args and the environment env; it returns the exit code and
// what went to stdout and stderr.
func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// Each test here is a defect of issue 13's list, which it failed before the fix.
func TestCLIConventions(t *testing.T) {
	t.Run("HelpListsSubCommands", func(t *testing.T) {
		for _, arg := range []string{"--help", "-h", "help"} {
			code, out, _ := runCLI(t, nil, "", arg)
			if code != 0 {
				t.Fatalf("%s: exit %d", arg, code)
			}
			for _, want := range []string{"gatehouse check", "gatehouse hash-password", "gatehouse version", "CMD --help"} {
				if !strings.Contains(out, want) {
					t.Errorf("%s: output lacks %q:\n%s", arg, want, out)
				}
			}
			if strings.Contains(out, "-licenses") {
				t.Errorf("%s lists serve's flags:\n%s", arg, out)
			}
		}
	})
	t.Run("VersionFlag", func(t *testing.T) {
		for _, arg := range []string{"--version", "-version", "version"} {
			code, out, errOut := runCLI(t, nil, "", arg)
			if code != 0 || !strings.HasPrefix(out, "gatehouse ") {
				t.Errorf("%s: exit %d, %q %q", arg, code, out, errOut)
			}
		}
	})
	t.Run("CheckHelpIsChecksOwn", func(t *testing.T) {
		code, out, _ := runCLI(t, nil, "", "check", "--help")
		if code != 0 || !strings.Contains(out, "gatehouse check") || !strings.Contains(out, "-dir") || strings.Contains(out, "-licenses") {
			t.Fatalf("check --help: exit %d\n%s", code, out)
		}
		code, out, _ = runCLI(t, nil, "", "help", "check")
		if code != 0 || !strings.Contains(out, "gatehouse check") {
			t.Fatalf("help check: exit %d\n%s", code, out)
		}
	})
	t.Run("ServeAndHashPasswordHelp", func(t *testing.T) {
		code, out, _ := runCLI(t, nil, "", "serve", "--help")
		for _, want := range []string{"-tls-cert", "-metrics-addr", "GATEHOUSE_", ":0 on every interface"} {
			if code != 0 || !strings.Contains(out, want) {
				t.Errorf("serve --help: exit %d, lacks %q", code, want)
			}
		}
		code, out, _ = runCLI(t, nil, "", "hash-password", "--help")
		if code != 0 || !strings.Contains(out, "-cost") || strings.Contains(out, "-licenses") {
			t.Errorf("hash-password --help: exit %d\n%s", code, out)
		}
	})
	t.Run("CheckHonoursGATEHOUSE_DIR", func(t *testing.T) {
		dir := copyDemo(t)
		os.WriteFile(filepath.Join(dir, "roles.json"), []byte("{\n  \"forceLogin\": 3\n}"), 0o644)
		code, out, _ := runCLI(t, map[string]string{"GATEHOUSE_DIR": dir}, "", "check")
		if code != 1 || !strings.Contains(out, "roles.json:2:") {
			t.Fatalf("check with GATEHOUSE_DIR of a broken app: exit %d\n%s", code, out)
		}
	})
	t.Run("CheckFailsOnMissingFolder", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "does-not-exist")
		code, out, errOut := runCLI(t, nil, "", "check", "--dir", missing)
		if code != 1 || strings.Contains(out, "ok") || !strings.Contains(errOut, missing) {
			t.Fatalf("check of a missing folder: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("BadEnvironmentValueNamesVariableValueAndFlag", func(t *testing.T) {
		code, _, errOut := runCLI(t, map[string]string{"GATEHOUSE_LICENSES": "abc"}, "", "serve")
		for _, want := range []string{"GATEHOUSE_LICENSES=abc", "--licenses", "not a number"} {
			if code != 1 || !strings.Contains(errOut, want) {
				t.Errorf("exit %d, stderr lacks %q: %s", code, want, errOut)
			}
		}
		code, _, errOut = runCLI(t, map[string]string{"GATEHOUSE_COST": "many"}, "pw\n", "hash-password")
		if code != 1 || !strings.Contains(errOut, "GATEHOUSE_COST=many") {
			t.Errorf("hash-password with a bad GATEHOUSE_COST: exit %d %s", code, errOut)
		}
	})
	t.Run("BadFlagValueNamesFlagAndValue", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"--licenses", "abc"}, `invalid value "abc" for flag -licenses`},
			{[]string{"--licenses", "-1"}, "--licenses -1"},
			{[]string{"--cookie-secure", "maybe"}, `--cookie-secure "maybe"`},
			{[]string{"--tls-cert", "a.pem"}, `--tls-cert "a.pem" and --tls-key ""`},
			{[]string{"--metrics-addr", "9044"}, `--metrics-addr "9044"`},
		} {
			code, _, errOut := runCLI(t, nil, "", append([]string{"serve"}, c.args...)...)
			if code != 1 || !strings.Contains(errOut, c.want) {
				t.Errorf("%v: exit %d, stderr lacks %q: %s", c.args, code, c.want, errOut)
			}
		}
	})
	t.Run("HashPasswordHonoursGATEHOUSE_COST", func(t *testing.T) {
		code, out, errOut := runCLI(t, map[string]string{"GATEHOUSE_COST": "5"}, "pw\n", "hash-password")
		if code != 0 || !strings.HasPrefix(out, "$2a$05$") {
			t.Fatalf("exit %d, %q %q", code, out, errOut)
		}
	})
}

func TestIdleTimeoutBelowMinimumWarns(t *testing.T) {
	s := startServer(t, copyDemo(t), "--idle-timeout", "10m")
	s.waitLog("--idle-timeout 10m0s is below --min-idle-timeout 1h0m0s: sessions get 1h0m0s")
}

func TestMetricsAddr(t *testing.T) {
	dir := copyDemo(t)
	ctx, cancel := context.WithCancel(context.Background())
	ready, metrics := make(chan string, 1), make(chan string, 1)
	stderr := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, []string{"--dir", dir, "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--script-timeout", "2m"},
			func(string) string { return "" }, stderr, hooks{ready: ready, metrics: metrics})
	}()
	defer func() {
		cancel()
		<-done
	}()
	var maddr, addr string
	select {
	case maddr = <-metrics:
	case err := <-done:
		done <- err
		t.Fatalf("serve: %v\n%s", err, stderr)
	case <-time.After(20 * time.Second):
		t.Fatal("metrics never served")
	}
	addr = <-ready
	s := &server{t: t, url: "http://" + addr}
	m := &server{t: t, url: "http://" + maddr}
	scrape := func() string {
		_, body := m.browser().do("GET", "/metrics", nil, "")
		return body
	}
	before := scrape()
	for _, want := range []string{"gatehouse_sessions 0", "gatehouse_licences_held 0", `gatehouse_logins_total{outcome="accepted"} 0`,
		`gatehouse_reloads_total{outcome="accepted"} 0`} {
		if !strings.Contains(before, want) {
			t.Errorf("first scrape lacks %s", want)
		}
	}
	b := s.browser()
	if code, _ := b.do("POST", "/rest/$directory/login", map[string]string{"username-4D": "ann@example.com", "password-4D": "sales-secret"}, ""); code != 200 {
		t.Fatalf("login: %d", code)
	}
	after := scrape()
	for _, want := range []string{"gatehouse_sessions 1", "gatehouse_licences_held 1", `gatehouse_logins_total{outcome="accepted"} 1`,
		`gatehouse_http_requests_total{code="200",method="POST",route="/rest/$directory/login"} 1`,
		`gatehouse_script_calls_total{function="onRESTAuthentication",outcome="ok"} 1`} {
		if !strings.Contains(after, want) {
			t.Errorf("scrape after a login lacks %s", want)
		}
	}
	if strings.Contains(after, "ann@example.com") {
		t.Error("a user name is in the metrics")
	}
	if code, _ := s.browser().do("GET", "/metrics", nil, ""); code == 200 {
		t.Error("metrics are served on the main address too")
	}
}
