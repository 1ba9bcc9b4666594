package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gatehouse/internal/testkit"
)

// app writes an app folder: file name (slash-separated) -> contents.
func app(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// syncBuffer is a log sink shared by the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// env is a whole server, built by New, behind httptest.
type env struct {
	srv  *Server
	http *httptest.Server
	logs *syncBuffer
	dir  string
}

// start builds the server of the app folder dir with the test's clock and without the file
// watcher: the tests reload by hand, deterministically.
func start(t *testing.T, dir string, cfg Config) *env {
	t.Helper()
	logs := &syncBuffer{}
	cfg.Dir, cfg.NoWatch = dir, true
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if cfg.Now == nil {
		cfg.Now = testkit.NewClock().Now
	}
	if cfg.CookieHashKey == "" {
		cfg.CookieHashKey = strings.Repeat("07", 32)
	}
	srv, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v\n%s", err, logs)
	}
	e := &env{srv: srv, http: httptest.NewServer(srv.Handler()), logs: logs, dir: dir}
	t.Cleanup(func() {
		e.http.Close()
		srv.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	return e
}

const salesModel = `{"dataClasses":[{"name":"SalesPersons","attributes":[
  {"name":"ID","type":"long","primaryKey":true,"autoincrement":true},
  {"name":"email","type":"string"},
  {"name":"password","type":"string"},
  {"name":"age","type":"long"}]}]}`

const salesRoles = `{"permissions":{"allowed":[
  {"applyTo":"SalesPersons.password","type":"attribute","read":["WebAdmin"]}]}}`

// TestReloadIsOneGeneration: one edit renames SalesPersons.password to passwordHash in
// model.json and roles.json, together with a change elsewhere in model.json that the
// database cannot take. The model used to be rejected and roles.json accepted on its own
// verdict — and a caller then read the password hash. Now the whole generation is
// rejected and the old one stays in force.
func TestReloadIsOneGeneration(t *testing.T) {
	dir := app(t, map[string]string{
		"model.json": salesModel, "roles.json": salesRoles,
		"seed.json": `{"SalesPersons":[{"ID":1,"email":"ann@example.com","password":"$2a$10$SECRETHASH","age":40}]}`,
	})
	e := start(t, dir, Config{})
	before := []testkit.Scenario{
		{Name: "HashHidden", Path: "/rest/SalesPersons(1)", Status: 200,
			Want: []string{`"email":"ann@example.com"`}, Reject: []string{"SECRETHASH"}},
	}
	testkit.Run(t, e.http.URL, before)

	renamed := strings.Replace(strings.Replace(salesModel, `"password"`, `"passwordHash"`, 1),
		`{"name":"age","type":"long"}`, `{"name":"age","type":"string"}`, 1)
	if err := os.WriteFile(filepath.Join(dir, "model.json"), []byte(renamed), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "roles.json"),
		[]byte(strings.Replace(salesRoles, "SalesPersons.password", "SalesPersons.passwordHash", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	seq := e.srv.App().Generation().Seq
	if err := e.srv.Reload(t.Context()); err == nil {
		t.Fatal("a reload whose model the database refuses was accepted")
	}
	if got := e.srv.App().Generation().Seq; got != seq {
		t.Fatalf("generation %d in force after a rejected reload, want %d", got, seq)
	}
	testkit.Run(t, e.http.URL, before)
}

func TestDataClassNamedAfterReservedModuleRefusesStart(t *testing.T) {
	for _, name := range []string{"DataStore", "onRESTAuthentication"} {
		dir := app(t, map[string]string{"model.json": `{"dataClasses":[{"name":"` + name +
			`","attributes":[{"name":"ID","type":"long","primaryKey":true}]}]}`})
		_, err := New(t.Context(), Config{Dir: dir, NoWatch: true})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Fatalf("start with a dataclass named %s: %v, want a refusal naming it", name, err)
		}
	}
}

// TestReloadNeverBlocksOnSpecialFiles: a FIFO in place of roles.json used to wedge the
// reload forever (and SIGTERM never completed); a link to /dev/zero grew memory without
// bound. Both are refused without being read, the old generation stays, and the server
// shuts down.
func TestReloadNeverBlocksOnSpecialFiles(t *testing.T) {
	dir := app(t, map[string]string{"roles.json": salesRoles, "model.json": salesModel})
	e := start(t, dir, Config{})
	rolesPath := filepath.Join(dir, "roles.json")
	for _, tc := range []struct {
		name string
		fn   func() error
	}{
		{"FIFO", func() error { return syscall.Mkfifo(rolesPath, 0o644) }},
		{"DevZero", func() error { return os.Symlink("/dev/zero", rolesPath) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.Remove(rolesPath); err != nil {
				t.Fatal(err)
			}
			if err := tc.fn(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- e.srv.Reload(t.Context()) }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "roles.json") {
					t.Fatalf("reload: %v, want a rejection naming roles.json", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the reload is stuck on a special file")
			}
		})
	}
	testkit.Run(t, e.http.URL, []testkit.Scenario{{Name: "StillServing", Path: "/rest/$catalog", Status: 200}})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

func TestFailedSeedLeavesNoDatabase(t *testing.T) {
	dir := app(t, map[string]string{"model.json": salesModel,
		"seed.json": `{"SalesPersons":[{"ID":1,"email":"a"},{"ID":"not a number"}]}`})
	if _, err := New(t.Context(), Config{Dir: dir, NoWatch: true}); err == nil || !strings.Contains(err.Error(), "seed.json") {
		t.Fatalf("start with a bad seed.json: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "gatehouse.db")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed seed left the database file: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "seed.json"), []byte(`{"SalesPersons":[{"ID":1,"email":"a"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	e := start(t, dir, Config{})
	testkit.Run(t, e.http.URL, []testkit.Scenario{{Name: "Seeded", Path: "/rest/SalesPersons", Status: 200, Want: []string{`"__COUNT":1`}}})
}

func TestStartWithoutRolesWarns(t *testing.T) {
	e := start(t, app(t, map[string]string{"model.json": salesModel}), Config{})
	if !strings.Contains(e.logs.String(), "no roles.json") {
		t.Fatalf("no warning about the missing roles.json:\n%s", e.logs)
	}
}

func TestReadiness(t *testing.T) {
	e := start(t, app(t, map[string]string{"model.json": salesModel}), Config{})
	testkit.Run(t, e.http.URL, []testkit.Scenario{
		{Name: "NotReadyBeforeServing", Path: "/readyz", Status: 503, Want: []string{`"server":"starting"`}},
		{Name: "LiveBeforeServing", Path: "/healthz", Status: 503},
	})
	e.srv.rest.SetReady()
	testkit.Run(t, e.http.URL, []testkit.Scenario{
		{Name: "Ready", Path: "/readyz", Status: 200, Want: []string{`{"status":"ok"}`}},
		{Name: "Live", Path: "/healthz", Status: 200},
	})
	e.srv.db.Close()
	testkit.Run(t, e.http.URL, []testkit.Scenario{
		{Name: "DatabaseGone", Path: "/readyz", Status: 503, Want: []string{`"database":"unavailable"`}},
		{Name: "StillLive", Path: "/healthz", Status: 200},
	})
}
