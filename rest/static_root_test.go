package rest

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// staticFixture lays out base/web (served) beside base/data and base/secret.txt (never
// served), with links from web/ to both sides, and a FIFO in web/.
func staticFixture(t *testing.T) (web string) {
	t.Helper()
	base := t.TempDir()
	web = filepath.Join(base, "web")
	data := filepath.Join(base, "data")
	files := map[string]string{
		"web/index.html":       "<h1>home</h1>",
		"web/docs/a.txt":       "A",
		"web/empty/x/note.txt": "x",
		"web/.hidden":          "hidden",
		"data/cookie.keys":     "OUTSIDE cookie keys",
		"data/index.html":      "OUTSIDE index",
		"secret.txt":           "OUTSIDE secret",
	}
	for name, body := range files {
		p := filepath.Join(base, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"files":         "../data",                         // the reported hole: web/files -> ../data
		"abs":           data,                              // the same folder by absolute path
		"secret.txt":    "../secret.txt",                   // a file outside
		"abs-secret":    filepath.Join(base, "secret.txt"), // a file outside, absolute
		"docs/up":       "../../data",                      // out of web/ from a subfolder
		"alias.txt":     "docs/a.txt",                      // a file inside web/
		"docs-alias":    "docs",                            // a folder inside web/
		"docs/back.txt": "../docs/a.txt",                   // inside web/ through ".."
		"pipe-link":     "pipe",                            // a link to the FIFO
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(web, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(web, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	return web
}

// serveStatic runs one request through h, failing the test if it does not answer within
// 30 s (a FIFO opened for reading blocks until a writer comes).
func serveStatic(t *testing.T, h http.Handler, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	r := httptest.NewRequest(method, target, nil)
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(w, r.WithContext(ctx))
	}()
	select {
	case <-done:
		return w
	case <-time.After(30 * time.Second):
		t.Fatalf("%s %s: no answer after 30 s", method, target)
		return nil
	}
}

func TestStaticStaysInsideWebFolder(t *testing.T) {
	web := staticFixture(t)
	s := &Server{log: slog.New(slog.DiscardHandler)}
	h := s.static(web)
	tests := []struct {
		path   string
		status int
		body   string
	}{
		{"/", 200, "<h1>home</h1>"},
		{"/docs/a.txt", 200, "A"},
		{"/alias.txt", 200, "A"},        // a link to a file inside web/
		{"/docs-alias/a.txt", 200, "A"}, // through a link to a folder inside web/
		{"/docs/back.txt", 200, "A"},    // a link that goes up and comes back inside
		{"/files", 404, ""},
		{"/files/", 404, ""},
		{"/files/cookie.keys", 404, ""},
		{"/files/index.html", 404, ""},
		{"/abs/cookie.keys", 404, ""},
		{"/secret.txt", 404, ""},
		{"/abs-secret", 404, ""},
		{"/docs/up/cookie.keys", 404, ""},
		{"/../data/cookie.keys", 404, ""},
		{"/.hidden", 404, ""},
		{"/docs/", 404, ""},    // a folder without index.html: no listing
		{"/empty/x/", 404, ""}, // same, deeper
		{"/missing.txt", 404, ""},
	}
	for _, tt := range tests {
		w := serveStatic(t, h, "GET", tt.path)
		body := w.Body.String()
		if w.Code != tt.status || (tt.body != "" && body != tt.body) {
			t.Errorf("GET %s: %d %q, want %d %q", tt.path, w.Code, body, tt.status, tt.body)
		}
		if strings.Contains(body, "OUTSIDE") {
			t.Errorf("GET %s served a file outside web/: %q", tt.path, body)
		}
	}

	// A FIFO, directly or through a link, answers (not 200) instead of hanging.
	for _, p := range []string{"/pipe", "/pipe-link"} {
		if w := serveStatic(t, h, "GET", p); w.Code == http.StatusOK {
			t.Errorf("GET %s: %d, want an error status", p, w.Code)
		}
	}

	if w := serveStatic(t, h, "HEAD", "/docs/a.txt"); w.Code != 200 {
		t.Errorf("HEAD /docs/a.txt: %d", w.Code)
	}
	if w := serveStatic(t, h, "POST", "/docs/a.txt"); w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /docs/a.txt: %d, Allow %q", w.Code, w.Header().Get("Allow"))
	}
	if w := serveStatic(t, h, "GET", "/"); w.Header().Get("Set-Cookie") != "" {
		t.Errorf("a static file set a cookie: %s", w.Header().Get("Set-Cookie"))
	}
}

// TestStaticOpenNeverBlocks: a file swapped for a FIFO after the handler's check is still
// refused at open time, without waiting for a writer.
func TestStaticOpenNeverBlocks(t *testing.T) {
	web := staticFixture(t)
	root, err := os.OpenRoot(web)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	fsys := webFS{root}
	done := make(chan error, 1)
	go func() {
		f, err := fsys.Open("pipe")
		if err == nil {
			f.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("open FIFO: %v, want not found", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("opening a FIFO blocked")
	}
	for _, name := range []string{"files/cookie.keys", "secret.txt", "../secret.txt", "/etc/passwd"} {
		if f, err := fsys.Open(name); err == nil {
			f.Close()
			t.Errorf("open %s: no error", name)
		} else if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("open %s: %v, want not found", name, err)
		}
	}
	if f, err := fsys.Open("alias.txt"); err != nil {
		t.Errorf("open alias.txt: %v", err)
	} else {
		f.Close()
	}
}

// TestStaticWithoutRoot: a web folder that cannot be opened answers 404 to everything and
// is logged once, when the handler is built.
func TestStaticWithoutRoot(t *testing.T) {
	var logged countingHandler
	s := &Server{log: slog.New(&logged)}
	h := s.static(filepath.Join(t.TempDir(), "no-such-folder"))
	for _, p := range []string{"/", "/index.html", "/a/b.txt"} {
		if w := serveStatic(t, h, "GET", p); w.Code != 404 {
			t.Errorf("GET %s: %d, want 404", p, w.Code)
		}
	}
	if logged.n != 1 {
		t.Fatalf("logged %d records, want 1", logged.n)
	}
}

// countingHandler counts the log records it is given.
type countingHandler struct{ n int }

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(context.Context, slog.Record) error {
	h.n++
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }
