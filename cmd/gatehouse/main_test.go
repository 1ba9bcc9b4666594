package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// copyDemo copies the demo app (the repository root) into a temporary folder.
func copyDemo(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	root := filepath.Join("..", "..")
	for _, name := range []string{"roles.json", "model.json", "seed.json", "scripts", "web", "webforms"} {
		src := filepath.Join(root, name)
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			target := filepath.Join(dst, rel)
			if d.IsDir() {
				return os.MkdirAll(target, 0o755)
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, 0o644)
		})
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	return dst
}

// server is a gatehouse started in-process by run's serve, on a free port.
type server struct {
	t        *testing.T
	reloaded chan error
	url      string
	stop     context.CancelFunc
	done     chan error
	stderr   *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func startServer(t *testing.T, dir string, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{t: t, stop: cancel, done: make(chan error, 1), stderr: &lockedBuffer{}, reloaded: make(chan error, 100)}
	ready := make(chan string, 1)
	env := func(string) string { return "" }
	// bcrypt at the demo's cost under -race on a loaded machine takes seconds: the default
	// 5s script timeout would race it (a test's own --script-timeout comes later and wins).
	all := append([]string{"--dir", dir, "--addr", "127.0.0.1:0", "--script-timeout", "2m"}, args...)
	go func() { s.done <- serve(ctx, all, env, s.stderr, hooks{ready: ready, reloaded: s.reloaded}) }()
	select {
	case addr := <-ready:
		s.url = "http://" + addr
	case err := <-s.done:
		t.Fatalf("server did not start: %v\n%s", err, s.stderr)
	case <-time.After(20 * time.Second):
		t.Fatalf("server did not start in time\n%s", s.stderr)
	}
	t.Cleanup(func() {
		s.shutdown()
		if t.Failed() {
			t.Logf("server log:\n%s", s.stderr)
		}
	})
	return s
}

func (s *server) shutdown() error {
	s.stop()
	select {
	case err := <-s.done:
		s.done <- err
		return err
	case <-time.After(30 * time.Second):
		s.t.Fatal("server did not stop")
		return nil
	}
}

type browser struct {
	t *testing.T
	s *server
	c *http.Client
}

func (s *server) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: s.t, s: s, c: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

func (b *browser) do(method, path string, header map[string]string, body string) (int, string) {
	b.t.Helper()
	code, text, err := b.try(method, path, header, body)
	if err != nil {
		b.t.Fatal(err)
	}
	return code, text
}

// try is do for goroutines other than the test's: it reports errors instead of failing.
func (b *browser) try(method, path string, header map[string]string, body string) (int, string, error) {
	req, err := http.NewRequest(method, b.s.url+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(data)), err
}

func TestVersionAndUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"version"}, nil, nil, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "gatehouse ") {
		t.Fatalf("version: %d %q", code, out.String())
	}
	if code := run(context.Background(), []string{"nonsense"}, nil, nil, &out, &errOut); code != 2 {
		t.Fatalf("unknown command exit %d, want 2", code)
	}
}

func TestHashPassword(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"hash-password", "--cost", "4"}, nil, strings.NewReader("s3cret\n"), &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if err := bcrypt.CompareHashAndPassword([]byte(strings.TrimSpace(out.String())), []byte("s3cret")); err != nil {
		t.Fatalf("hash does not verify: %v", err)
	}
	if code := run(context.Background(), []string{"hash-password"}, nil, strings.NewReader(""), &out, &errOut); code != 1 {
		t.Fatalf("empty password: exit %d", code)
	}
}

func TestCheck(t *testing.T) {
	dir := copyDemo(t)
	var out bytes.Buffer
	if code := run(context.Background(), []string{"check", "--dir", dir}, nil, nil, &out, io.Discard); code != 0 {
		t.Fatalf("demo app does not check: %s", out.String())
	}
	os.WriteFile(filepath.Join(dir, "roles.json"), []byte("{\n  \"forceLogin\": 3\n}"), 0o644)
	os.WriteFile(filepath.Join(dir, "scripts", "broken.js"), []byte("exports.f = function( {\n"), 0o644)
	out.Reset()
	if code := run(context.Background(), []string{"check", "--dir", dir}, nil, nil, &out, io.Discard); code != 1 {
		t.Fatalf("broken app: exit %d", code)
	}
	for _, want := range []string{"roles.json:2:", "broken.js:2:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestCheckReportsDanglingPermissions(t *testing.T) {
	dir := copyDemo(t)
	p := filepath.Join(dir, "roles.json")
	data, _ := os.ReadFile(p)
	text := strings.Replace(string(data), `"Users.password"`, `"Users.pasword"`, 1)
	text = strings.Replace(text, `"SalesPersons.myCustomers"`, `"SalesPersons.myCustomer"`, 1)
	text = strings.Replace(text, `"applyTo": "Customers"`, `"applyTo": "Custmers"`, 1)
	os.WriteFile(p, []byte(text), 0o644)
	var out bytes.Buffer
	if code := run(context.Background(), []string{"check", "--dir", dir}, nil, nil, &out, io.Discard); code != 1 {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
	for _, want := range []string{
		`"Users.pasword" (attribute): no such attribute`,
		`"SalesPersons.myCustomer" (method): scripts/SalesPersons.js exports no function "myCustomer"`,
		`"Custmers" (dataclass): no such dataclass`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check output lacks %s:\n%s", want, out.String())
		}
	}
}

func TestServeRefusesInvalidApp(t *testing.T) {
	dir := copyDemo(t)
	os.WriteFile(filepath.Join(dir, "roles.json"), []byte(`{"privileges": [{"privilege": "a", "includes": ["nope"]}]}`), 0o644)
	var errOut bytes.Buffer
	code := run(context.Background(), []string{"serve", "--dir", dir, "--addr", "127.0.0.1:0"}, func(string) string { return "" }, nil, io.Discard, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "roles.json:1:") {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
}

func TestFlagsFromEnvironment(t *testing.T) {
	env := map[string]string{"GATEHOUSE_LICENSES": "7", "GATEHOUSE_MAX_BODY": "2MiB", "GATEHOUSE_ADDR": "127.0.0.1:9", "GATEHOUSE_MAX_BINARY": "16MiB"}
	cfg, err := parseServeFlags([]string{"--addr", ":1234"}, func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Licenses != 7 || cfg.MaxBody != 2<<20 || cfg.MaxBinary != 16<<20 || cfg.Addr != ":1234" {
		t.Fatalf("got %+v", cfg)
	}
	for _, bad := range [][]string{{"--cookie-samesite", "sometimes"}, {"--max-body", "lots"}, {"--max-binary", "0"}, {"--licenses", "-1"},
		{"--min-idle-timeout", "2h", "--max-idle-timeout", "1h"}, {"--log-format", "xml"}, {"--trusted-proxies", "10.0.0.0/8, nope"}} {
		if _, err := parseServeFlags(bad, func(string) string { return "" }, nil); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if _, err := parseServeFlags(nil, func(k string) string {
		if k == "GATEHOUSE_LICENSES" {
			return "many"
		}
		return ""
	}, nil); err == nil || !strings.Contains(err.Error(), "GATEHOUSE_LICENSES") {
		t.Fatalf("bad env value: %v", err)
	}
}

func TestGracefulShutdownReleasesLicences(t *testing.T) {
	dir := copyDemo(t)
	s := startServer(t, dir, "--licenses", "2")
	b := s.browser()
	if code, body := b.do("GET", "/healthz", nil, ""); code != 200 || body != `{"status":"ok"}` {
		t.Fatalf("healthz: %d %s", code, body)
	}
	b.do("GET", "/rest/$catalog", nil, "")
	if err := s.shutdown(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if !strings.Contains(s.stderr.String(), "releasing licences") {
		t.Fatalf("no licence release logged:\n%s", s.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "cookie.keys")); err != nil {
		t.Fatalf("cookie keys not created: %v", err)
	}
}

// TestReloadUnderLoad rewrites a script many times (broken versions included) while
// clients call it: no request fails, every answer comes from one whole version, and a
// broken version never becomes active.
func TestReloadUnderLoad(t *testing.T) {
	dir := copyDemo(t)
	ds := filepath.Join(dir, "scripts", "DataStore.js")
	// Each version requires its own lib file, written before DataStore.js, and every file is
	// saved by rename: whatever moment the watcher loads, the files on disk form one whole
	// version, so a mixed answer could only come from the server mixing two sets.
	save := func(path, text string) {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(dir, "scripts", "lib"), 0o755)
	writeVersion := func(n int) {
		save(filepath.Join(dir, "scripts", "lib", fmt.Sprintf("version%d.js", n)), fmt.Sprintf("exports.v = %d;\n", n))
		save(ds, fmt.Sprintf(`const lib = require("./lib/version%d");
const mine = %d;
exports.version = function () { return [mine, lib.v]; };
exports.version.onHttpGet = true;
exports.authentify = function () { return false; };
`, n, n))
	}
	writeVersion(0)
	roles := filepath.Join(dir, "roles.json")
	os.WriteFile(roles, []byte(`{"permissions": {"allowed": [{"applyTo": "ds.version", "type": "method", "execute": ["guest"]}]}}`), 0o644)
	s := startServer(t, dir)

	var (
		mu      sync.Mutex
		seen    = map[int]bool{}
		failure error
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	stopLoad := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopLoad()
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := s.browser()
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, body, err := b.try("GET", "/rest/$catalog/version", nil, "")
				var got struct{ Result []int }
				if err == nil {
					err = json.Unmarshal([]byte(body), &got)
				}
				mu.Lock()
				switch {
				case code != 200 || err != nil || len(got.Result) != 2:
					failure = fmt.Errorf("request failed: %d %s", code, body)
				case got.Result[0] != got.Result[1]:
					failure = fmt.Errorf("mixed versions: %v", got.Result)
				case got.Result[0] < 0:
					failure = fmt.Errorf("a broken version answered: %v", got.Result)
				default:
					seen[got.Result[0]] = true
				}
				mu.Unlock()
			}
		}()
	}
	b := s.browser()
	// waitReload waits for the reload that follows a write (a write may cause more than one
	// reload) until one has the expected outcome — rejected when wantErr — and then checks
	// the active version.
	waitReload := func(wantErr bool, active int) {
		t.Helper()
		want := fmt.Sprintf(`{"result":[%d,%d]}`, active, active)
		deadline := time.After(10 * time.Second)
		for {
			select {
			case err := <-s.reloaded:
				if (err != nil) != wantErr {
					continue
				}
				if _, body := b.do("GET", "/rest/$catalog/version", nil, ""); body != want {
					if wantErr {
						t.Fatalf("after a rejected reload: got %s, want %s", body, want)
					}
					continue
				}
				return
			case <-deadline:
				t.Fatalf("no reload made version %d active (want error: %v)", active, wantErr)
			}
		}
	}
	for n := 1; n <= 12; n++ {
		if n%3 == 0 {
			// A broken version (syntax error): rejected, the previous one stays.
			save(ds, "const mine = -1;\nexports.version = function () { return [mine, mine] ;\n")
			waitReload(true, n-1)
			writeVersion(n - 1) // back to a good file, same version
			waitReload(false, n-1)
			continue
		}
		writeVersion(n)
		waitReload(false, n)
	}
	stopLoad()
	if failure != nil {
		t.Fatal(failure)
	}
	if len(seen) < 4 {
		t.Fatalf("load saw only versions %v", seen)
	}
	if !strings.Contains(s.stderr.String(), "DataStore.js:3") {
		t.Errorf("the broken version's error (file:line) was not logged")
	}
}
