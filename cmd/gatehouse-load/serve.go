package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"gatehouse/datastore"
	"gatehouse/datastore/dsjs"
	"gatehouse/engine"
	"gatehouse/rest"
	"gatehouse/roles"
	"gatehouse/sessions"
)

// appFiles are what is copied of the demo app (not data/: the copy starts from seed.json).
var appFiles = []string{"roles.json", "model.json", "seed.json", "scripts", "web", "webforms"}

// gatehouse is a gatehouse server running in this process on a temporary copy of an app
// folder, wired as cmd/gatehouse wires it (minus the file watcher), with logging off.
type gatehouse struct {
	url  string
	dir  string
	http *http.Server
	mgr  *sessions.Manager
	db   *datastore.DB
	done chan error
}

// startGatehouse copies app into a temporary folder (turning forceLogin on when asked)
// and serves it on a free loopback port.
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

	quiet := slog.New(slog.DiscardHandler)
	pol, err := roles.Load(filepath.Join(dir, "roles.json"))
	if err != nil {
		return nil, err
	}
	model, err := datastore.LoadModel(filepath.Join(dir, "model.json"))
	if err != nil {
		return nil, err
	}
	if g.db, err = datastore.Open(ctx, filepath.Join(dir, "data", "gatehouse.db"), model, datastore.Options{Logger: quiet}); err != nil {
		return nil, err
	}
	if seed, err := os.ReadFile(filepath.Join(dir, "seed.json")); err == nil {
		if _, err := g.db.Seed(ctx, seed); err != nil {
			return nil, fmt.Errorf("seed.json: %w", err)
		}
	}
	eng, err := engine.New(engine.Options{Dir: filepath.Join(dir, "scripts"), Logger: quiet, Globals: []engine.Global{dsjs.New(g.db)}})
	if err != nil {
		return nil, err
	}
	key := make([]byte, 64)
	rand.Read(key)
	codec, err := sessions.NewCodec([]sessions.KeyPair{{Hash: key}})
	if err != nil {
		return nil, err
	}
	store := sessions.NewMemoryStore(100_000)
	g.mgr = sessions.NewManager(sessions.Config{Store: store, Logger: quiet})
	if err := g.mgr.Open(); err != nil {
		return nil, err
	}
	srv, err := rest.New(rest.Config{
		Sessions: g.mgr, Codec: codec, Throttle: sessions.NewThrottle(store, sessions.ThrottleConfig{}),
		Roles: func() *roles.Config { return pol }, Scripts: eng, Data: g.db,
		WebDir: existing(dir, "web"), WebFormsDir: existing(dir, "webforms"),
		Version: "load", Logger: quiet,
	})
	if err != nil {
		return nil, err
	}
	srv.SetReady()
	if g.url, err = g.serve(srv); err != nil {
		return nil, err
	}
	return g, nil
}

// serve listens on a free loopback port.
func (g *gatehouse) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	g.http = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)}
	go func() { g.done <- g.http.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// Close stops the server and removes the temporary copy.
func (g *gatehouse) Close() error {
	var errs []error
	if g.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		errs = append(errs, g.http.Shutdown(ctx))
		if err := <-g.done; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	if g.mgr != nil {
		errs = append(errs, g.mgr.Close())
	}
	if g.db != nil {
		errs = append(errs, g.db.Close())
	}
	if g.dir != "" {
		errs = append(errs, os.RemoveAll(g.dir))
	}
	return errors.Join(errs...)
}

// startBare serves the bare baseline: a gorilla/mux router with the scenario's one route,
// answering the captured sample.
func startBare(sc scenario, s *sample) (*gatehouse, error) {
	path, _, _ := strings.Cut(sc.path, "?")
	r := mux.NewRouter()
	r.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", s.contentType)
		w.WriteHeader(s.status)
		w.Write(s.body)
	}).Methods(sc.method)
	g := &gatehouse{done: make(chan error, 1)}
	var err error
	if g.url, err = g.serve(r); err != nil {
		return nil, err
	}
	return g, nil
}

// existing returns dir/name when that folder exists, else "".
func existing(dir, name string) string {
	p := filepath.Join(dir, name)
	if fi, err := os.Stat(p); err == nil && fi.IsDir() {
		return p
	}
	return ""
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
