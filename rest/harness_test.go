package rest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/core"
	"gatehouse/datastore"
	"gatehouse/datastore/dsjs"
	"gatehouse/engine"
	"gatehouse/internal/pgtest"
	"gatehouse/internal/testkit"
	"gatehouse/sessions"
)

// harness is a real gatehouse REST server (real sessions, real goja scripts written to a
// temporary folder, real roles.json) behind httptest.
type harness struct {
	t       *testing.T
	dir     string
	srv     *httptest.Server
	rest    *Server
	mgr     *sessions.Manager
	store   *sessions.MemoryStore
	clock   *testkit.Clock
	eng     *engine.Engine
	db      *datastore.DB
	app     *core.App
	logs    *bytes.Buffer
	logsMu  *sync.Mutex
	options harnessOptions
}

type harnessOptions struct {
	licences      int
	maxGuests     int
	roles         string            // roles.json text; "" = none
	scripts       map[string]string // file name under scripts/ -> source
	scriptTimeout time.Duration
	throttleMax   int // failed logins per user name
	throttleMaxIP int // failed logins per client address
	maxBody       int64
	web           map[string]string // files under web/
	webforms      map[string]string
	globals       []engine.Global
	model         string // model.json text; "" = no datastore
	seed          string // seed.json text
	cfg           func(*Config)
	// wrapStore, when set, wraps the memory store the sessions manager uses (a hook).
	wrapStore func(*sessions.MemoryStore) sessions.Store
}

// syncWriter serialises writes to a buffer shared by goroutines.
type syncWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func newHarness(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), clock: testkit.NewClock(),
		logs: &bytes.Buffer{}, logsMu: &sync.Mutex{}, options: o}
	write := func(sub string, files map[string]string) {
		for name, src := range files {
			p := filepath.Join(h.dir, sub, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("scripts", o.scripts)
	write("web", o.web)
	write("webforms", o.webforms)
	if o.roles != "" {
		write("", map[string]string{"roles.json": o.roles})
	}
	if o.model != "" {
		write("", map[string]string{"model.json": o.model})
	}
	logger := slog.New(slog.NewTextHandler(syncWriter{h.logsMu, h.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.scriptTimeout == 0 {
		o.scriptTimeout = 2 * time.Second
	}
	if o.maxGuests == 0 {
		o.maxGuests = 1000
	}
	h.store = sessions.NewMemoryStore(o.maxGuests)
	var store sessions.Store = h.store
	if o.wrapStore != nil {
		store = o.wrapStore(h.store)
	}
	h.mgr = sessions.NewManager(sessions.Config{Store: store, Now: h.clock.Now, Licences: o.licences,
		IdleTimeout: time.Hour, MinIdle: time.Hour, MaxIdle: 24 * time.Hour})
	codec, err := sessions.NewCodec([]sessions.KeyPair{{Hash: bytes.Repeat([]byte{7}, 32)}})
	if err != nil {
		t.Fatal(err)
	}
	webDir, formsDir := "", ""
	if o.web != nil {
		webDir = filepath.Join(h.dir, "web")
	}
	if o.webforms != nil {
		formsDir = filepath.Join(h.dir, "webforms")
	}
	var data Datastore
	if o.model != "" {
		m, err := datastore.ParseModel([]byte(o.model))
		if err != nil {
			t.Fatalf("model: %v", err)
		}
		db, err := datastore.Open(t.Context(), testDatabase(t, h.dir), m, datastore.Options{Now: h.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if o.seed != "" {
			if _, err := db.Seed(t.Context(), []byte(o.seed)); err != nil {
				t.Fatalf("seed: %v", err)
			}
		}
		h.db, data = db, db
	}
	globals := o.globals
	if h.db != nil {
		globals = append(globals, dsjs.New(h.db))
	}
	eng, err := engine.New(engine.Options{Dir: filepath.Join(h.dir, "scripts"), Timeout: o.scriptTimeout, Logger: logger, Globals: globals})
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
	h.eng = eng
	coreCfg := core.Config{Dir: h.dir, Engine: eng, Sessions: h.mgr, Logger: logger,
		Throttle: sessions.NewThrottle(h.store, sessions.ThrottleConfig{
			MaxPerUser: o.throttleMax, MaxPerIP: o.throttleMaxIP, Window: 5 * time.Minute, Now: h.clock.Now})}
	if h.db != nil {
		coreCfg.Schema = h.db.SetModel
	}
	if h.app, err = core.New(t.Context(), coreCfg); err != nil {
		t.Fatalf("app folder: %v", err)
	}
	cfg := Config{
		App: h.app, Data: data, Codec: codec, WebDir: webDir, WebFormsDir: formsDir,
		MaxBody: o.maxBody, Logger: logger, Version: "test",
	}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	h.rest, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.rest.SetReady()
	h.srv = httptest.NewServer(h.rest)
	t.Cleanup(func() {
		h.srv.Close()
		h.mgr.Close()
		if t.Failed() {
			h.logsMu.Lock()
			t.Logf("server log:\n%s", h.logs.String())
			h.logsMu.Unlock()
		}
	})
	return h
}

// setRoles writes roles.json and reloads the app folder, as an edit on a running server
// does; the reload must be accepted.
func (h *harness) setRoles(text string) {
	h.t.Helper()
	if err := os.WriteFile(filepath.Join(h.dir, "roles.json"), []byte(text), 0o644); err != nil {
		h.t.Fatal(err)
	}
	if err := h.app.Reload(h.t.Context()); err != nil {
		h.t.Fatalf("reload: %v", err)
	}
}

// stats returns the store's counts.
func (h *harness) stats() sessions.Stats {
	h.t.Helper()
	st, err := h.mgr.Stats(h.t.Context())
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

// client is an HTTP client with its own cookie jar: one browser.
type client struct {
	h   *harness
	c   *http.Client
	jar *cookiejar.Jar
}

func (h *harness) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{h: h, jar: jar, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// response is what a request answered.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.body)
	}
	return v
}

// errCode returns the first __ERROR errCode of the body, or 0.
func (r response) errCode() int {
	var e errorBody
	if json.Unmarshal(r.body, &e) != nil || len(e.Errors) == 0 {
		return 0
	}
	return e.Errors[0].ErrCode
}

func (c *client) do(method, path string, header map[string]string, body string) response {
	c.h.t.Helper()
	var raw []byte
	if body != "" {
		raw = []byte(body)
	}
	return c.doBytes(method, path, "", raw, header)
}

// doBytes sends a raw body and reads the raw answer.
func (c *client) doBytes(method, path, contentType string, body []byte, header map[string]string) response {
	c.h.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.h.srv.URL+path, rd)
	if err != nil {
		c.h.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (c *client) get(path string) response { c.h.t.Helper(); return c.do("GET", path, nil, "") }

func (c *client) post(path, body string) response {
	c.h.t.Helper()
	return c.do("POST", path, nil, body)
}

// login posts to $directory/login with the 4D headers.
func (c *client) login(user, password string) response {
	c.h.t.Helper()
	return c.do("POST", "/rest/$directory/login", map[string]string{"username-4D": user, "password-4D": password}, "")
}

// cookie returns the session cookie value the jar holds ("" when none).
func (c *client) cookie() string {
	for _, ck := range c.jar.Cookies(mustURL(c.h.srv.URL)) {
		if ck.Name == "WASID4D" {
			return ck.Value
		}
	}
	return ""
}

func wantStatus(t *testing.T, r response, status, code int) {
	t.Helper()
	if r.status != status || (code != 0 && r.errCode() != code) {
		t.Fatalf("got %d errCode %d, want %d errCode %d; body %s", r.status, r.errCode(), status, code, r.body)
	}
}

func wantBody(t *testing.T, r response, want string) {
	t.Helper()
	if got := strings.TrimSpace(string(r.body)); got != want {
		t.Fatalf("body: got %s, want %s", got, want)
	}
}

type sessionsSession = sessions.Session

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func mustRequest(method, path string) *http.Request { return httptest.NewRequest(method, path, nil) }

// TestMain runs the package's tests against SQLite, then its data tests (those whose harness
// has a model) again against a throwaway PostgreSQL (pgtest).
func TestMain(m *testing.M) {
	os.Exit(pgtest.Main(m, "^(TestPermissionScenarios|TestRestrictedByDefault|TestDataRequests|TestUpdateStampsAndBatches|"+
		"TestInjection|TestCatalog|TestAttributesRestrictExpansion|TestRefusedRequestsTakeNoLicence|TestDataStoreNamedDataClassIsRefused|TestBinary.*|TestListAnswersAsEntitiesDo|TestReadOnlyRequestsReadOneSnapshot|TestFailedRequestsLeaveNoSnapshotOpen)$"))
}

// testDatabase names a fresh database for t: a SQLite file in dir, or, in the PostgreSQL pass,
// a new PostgreSQL database.
func testDatabase(t *testing.T, dir string) string {
	t.Helper()
	if pgtest.Active() {
		return pgtest.NewDatabase(t)
	}
	return filepath.Join(dir, "test.db")
}
