package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/mux"
	"golang.org/x/net/netutil"

	"gatehouse/engine"
	"gatehouse/server"
)

// appFiles are what is copied of the demo app (not data/: the copy starts from seed.json).
var appFiles = []string{"roles.json", "model.json", "seed.json", "scripts", "web", "webforms"}

// gatehouse is a server under load, in a process of its own: the real gatehouse binary,
// built from this module and run on a temporary copy of an app folder (so the load measures
// exactly what users run, wired by cmd/gatehouse and nothing else), or the bare baseline.
type gatehouse struct {
	url  string
	dir  string
	cmd  *exec.Cmd // the server's process
	done chan error
}

// startGatehouse copies app into a temporary folder (turning forceLogin on when asked),
// builds cmd/gatehouse there and runs it on a free loopback port, with the access log off
// (--log-level warn), until it answers /healthz.
func startGatehouse(ctx context.Context, app string, forceLogin bool) (g *gatehouse, err error) {
	if _, err := os.Stat(filepath.Join(app, "roles.json")); err != nil {
		return nil, fmt.Errorf("--app %s: not a gatehouse app folder (no roles.json): run from the repository root or set --app", app)
	}
	dir, err := os.MkdirTemp("", "gatehouse-load-")
	if err != nil {
		return nil, err
	}
	g = &gatehouse{dir: dir, done: make(chan error, 1)}
	defer func() {
		if err != nil {
			g.Close()
		}
	}()
	if err := copyApp(app, dir); err != nil {
		return nil, err
	}
	if forceLogin {
		if err := setForceLogin(filepath.Join(dir, "roles.json")); err != nil {
			return nil, err
		}
	}
	bin := filepath.Join(dir, "gatehouse")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "gatehouse/cmd/gatehouse")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build gatehouse (run from inside the repository, or use --url): %v\n%s", err, out)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--dir", dir, "--addr", addr, "--log-level", "warn")
	if err := g.start(ctx, cmd, addr, "gatehouse"); err != nil {
		return nil, err
	}
	return g, nil
}

// start runs cmd as g's server, listening on addr, and waits until it answers /healthz.
func (g *gatehouse) start(ctx context.Context, cmd *exec.Cmd, addr, what string) error {
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	g.cmd = cmd
	go func() { g.done <- cmd.Wait() }()
	g.url = "http://" + addr
	if err := waitHealthy(ctx, g.url, g.done); err != nil {
		return fmt.Errorf("%s did not start: %v\n%s", what, err, stderr)
	}
	return nil
}

// lockedBuffer collects a process's standard error; the process writes while we may read.
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

// freeAddr returns a loopback address with a port free now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitHealthy polls url's /healthz until it answers 200 (30 s at most), or the process ends.
func waitHealthy(ctx context.Context, url string, exited chan error) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("exited: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if resp, err := http.Get(url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond) // polling a process we started, not waiting for an effect
	}
	return errors.New("no answer on /healthz within 30s")
}

// Close stops the server (SIGTERM: gatehouse shuts down gracefully) and removes the
// temporary copy.
func (g *gatehouse) Close() error {
	var errs []error
	if g.cmd != nil && g.cmd.Process != nil {
		g.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-g.done:
			errs = append(errs, err)
		case <-time.After(30 * time.Second):
			g.cmd.Process.Kill()
			errs = append(errs, errors.New("gatehouse did not stop within 30s"))
		}
	}
	if g.dir != "" {
		errs = append(errs, os.RemoveAll(g.dir))
	}
	return errors.Join(errs...)
}

// bareSpec is what the bare baseline answers: passed to its process in a file named by
// the environment variable bareSpecEnv.
type bareSpec struct {
	Addr        string `json:"addr"`
	Method      string `json:"method"`
	Path        string `json:"path"`
	Status      int    `json:"status"`
	ContentType string `json:"contentType"`
	Body        []byte `json:"body"`
}

// bareSpecEnv, when set, makes this program (or its test binary) the bare baseline server.
const bareSpecEnv = "GATEHOUSE_LOAD_BARE_SPEC"

// startBare runs the bare baseline — a gorilla/mux router with the scenario's one route,
// answering the captured sample — in a process of its own, as gatehouse runs in its own:
// both servers then pay the same for crossing processes.
func startBare(ctx context.Context, sc scenario, s *sample) (g *gatehouse, err error) {
	dir, err := os.MkdirTemp("", "gatehouse-load-bare-")
	if err != nil {
		return nil, err
	}
	g = &gatehouse{dir: dir, done: make(chan error, 1)}
	defer func() {
		if err != nil {
			g.Close()
		}
	}()
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	path, _, _ := strings.Cut(sc.path, "?")
	spec, err := json.Marshal(bareSpec{Addr: addr, Method: sc.method, Path: path, Status: s.status, ContentType: s.contentType, Body: s.body})
	if err != nil {
		return nil, err
	}
	specFile := filepath.Join(dir, "spec.json")
	if err := os.WriteFile(specFile, spec, 0o600); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), bareSpecEnv+"="+specFile)
	if err := g.start(ctx, cmd, addr, "the bare server"); err != nil {
		return nil, err
	}
	return g, nil
}

// serveBare is the bare baseline's process: it serves the spec until SIGTERM.
func serveBare(specFile string) error {
	data, err := os.ReadFile(specFile)
	if err != nil {
		return err
	}
	var spec bareSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		return err
	}
	r := mux.NewRouter()
	r.HandleFunc(spec.Path, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", spec.ContentType)
		w.WriteHeader(spec.Status)
		w.Write(spec.Body)
	}).Methods(spec.Method)
	r.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(`{"status":"ok"}`)) })
	ln, err := net.Listen("tcp", spec.Addr)
	if err != nil {
		return err
	}
	// Served as gatehouse serves (its timeouts, its limits, the same connection cap), so
	// that the comparison measures the handlers and nothing else.
	srv := server.HTTPServer(r, engine.DefaultTimeout, slog.New(slog.DiscardHandler))
	ln = netutil.LimitListener(ln, server.DefaultMaxConns)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// copyApp copies the app folder's files into dst.
func copyApp(src, dst string) error {
	for _, name := range appFiles {
		root := filepath.Join(src, name)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(src, p)
			if err != nil {
				return err
			}
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
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("copy the app folder: %w", err)
		}
	}
	return nil
}

// setForceLogin turns forceLogin on in a roles.json.
func setForceLogin(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	doc["forceLogin"] = true
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o644)
}
