package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/internal/redistest"
	"gatehouse/internal/testkit"
	"gatehouse/sessions"
)

// clusterAuth accepts the password "secret" for any user: no database, no bcrypt, so that
// logins under -race cost little.
const clusterAuth = `module.exports = function (user, password) { return password === "secret"; };`

// clusterApp writes an app folder with clusterAuth as its onRESTAuthentication.
func clusterApp(t testing.TB) string {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"scripts/onRESTAuthentication.js": clusterAuth,
		// The same seeded entities in every instance's own SQLite file, so that an entity
		// set's keys name the same entities everywhere.
		"model.json": clusterModel,
		"seed.json":  clusterSeed,
	} {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const (
	clusterModel = `{"dataClasses":[{"name":"Things","attributes":[
		{"name":"ID","type":"long","primaryKey":true},{"name":"name","type":"string"}]}]}`
	clusterSeed = `{"Things":[{"ID":1,"name":"one"},{"ID":2,"name":"two"},{"ID":3,"name":"three"},
		{"ID":4,"name":"four"},{"ID":5,"name":"five"}]}`
)

// node is one gatehouse instance of a test cluster, serving on a real loopback port.
type node struct {
	name string
	srv  *Server
	url  string
	logs *syncBuffer
	done chan struct{} // closed when Serve returned
}

// startNode starts an instance with its own app folder (and so its own SQLite database)
// on the Redis store url, namespace ns. No cookie keys are given: the instances share the
// ones the store holds.
func startNode(t *testing.T, name, url, ns string, cfg Config) *node {
	t.Helper()
	logs := &syncBuffer{}
	cfg.Dir = clusterApp(t)
	cfg.NoWatch, cfg.Store, cfg.StoreNamespace = true, url, ns
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("%s: New: %v\n%s", name, err, logs)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := &node{name: name, srv: srv, url: "http://" + ln.Addr().String(), logs: logs, done: make(chan struct{})}
	go func() { srv.Serve(ln); close(n.done) }()
	t.Cleanup(func() {
		n.srv.http.Close()
		<-n.done
		srv.Close()
		if t.Failed() {
			t.Logf("%s log:\n%s", name, logs)
		}
	})
	return n
}

// cluster starts three instances A, B, C on one Redis namespace.
func cluster(t *testing.T, redis *redistest.Server, ns string, cfg Config) [3]*node {
	t.Helper()
	var c [3]*node
	for i, name := range []string{"A", "B", "C"} {
		c[i] = startNode(t, name, redis.URL(), ns, cfg)
	}
	return c
}

// browser returns a client of node n that shares jar with other browsers of the same user
// (cookies ignore ports: one browser talking to three instances behind a balancer).
func browser(t *testing.T, n *node, like *testkit.Client) *testkit.Client {
	c := testkit.NewClient(t, n.url)
	if like != nil {
		c.Jar, c.HTTP.Jar = like.Jar, like.Jar
	}
	return c
}

func login(c *testkit.Client, user, password string) testkit.Response {
	return c.Do("POST", "/rest/$directory/login", map[string]string{"username-4D": user, "password-4D": password}, "")
}

func currentUser(t *testing.T, c *testkit.Client, header map[string]string) string {
	t.Helper()
	r := c.Do("GET", "/rest/$directory/currentUser", header, "")
	if r.Status != 200 {
		t.Fatalf("currentUser: %d %s", r.Status, r.Body)
	}
	res, _ := r.JSON(t)["result"].(map[string]any)
	name, _ := res["userName"].(string)
	return name
}

// TestCluster runs three gatehouse instances on one real redis-server and checks that they
// behave as one server to every client (SPEC §4.4).
func TestCluster(t *testing.T) {
	redis := redistest.Start(t)
	nodes := cluster(t, redis, "cluster", Config{Now: time.Now})
	a, b, c := nodes[0], nodes[1], nodes[2]

	t.Run("SessionOpenedOnAIsServedByBAndC", func(t *testing.T) {
		ca := browser(t, a, nil)
		if r := login(ca, "alice", "secret"); r.Status != 200 {
			t.Fatalf("login on A: %d %s", r.Status, r.Body)
		}
		for _, n := range []*node{a, b, c} {
			if got := currentUser(t, browser(t, n, ca), nil); got != "alice" {
				t.Fatalf("currentUser on %s: got %q, want alice", n.name, got)
			}
		}
	})

	t.Run("EntitySetMadeOnAIsPagedOnBAndReleasedOnC", func(t *testing.T) {
		ca := browser(t, a, nil)
		if r := login(ca, "erin", "secret"); r.Status != 200 {
			t.Fatalf("login on A: %d %s", r.Status, r.Body)
		}
		r := ca.Do("GET", "/rest/Things?$method=entityset&$orderby=ID&$top=2", nil, "")
		set, _ := r.JSON(t)["__ENTITYSET"].(string)
		if r.Status != 200 || !strings.HasPrefix(set, "/rest/Things/$entityset/") {
			t.Fatalf("entity set on A: %d %s", r.Status, r.Body)
		}
		page := browser(t, b, ca).Do("GET", set+"?$skip=2&$top=2", nil, "")
		if page.Status != 200 || !strings.Contains(string(page.Body), `"name":"three"`) ||
			!strings.Contains(string(page.Body), `"name":"four"`) || strings.Contains(string(page.Body), `"name":"one"`) {
			t.Fatalf("page 2 on B: %d %s", page.Status, page.Body)
		}
		// Another session, on any instance, never sees it.
		stranger := browser(t, b, nil)
		if r := login(stranger, "mallory", "secret"); r.Status != 200 {
			t.Fatal(r.Status)
		}
		if r := stranger.Do("GET", set, nil, ""); r.Status != 404 {
			t.Fatalf("another session read the set: %d %s", r.Status, r.Body)
		}
		if r := browser(t, c, ca).Do("GET", set+"?$method=release", nil, ""); r.Status != 200 {
			t.Fatalf("release on C: %d %s", r.Status, r.Body)
		}
		if r := browser(t, a, ca).Do("GET", set, nil, ""); r.Status != 404 {
			t.Fatalf("released set still served on A: %d %s", r.Status, r.Body)
		}
	})

	t.Run("LogoutOnBIsSeenOnA", func(t *testing.T) {
		// Opened on C, so that A has not written it: A serves it from its cache.
		ca := browser(t, c, nil)
		if r := login(ca, "carol", "secret"); r.Status != 200 {
			t.Fatalf("login: %d %s", r.Status, r.Body)
		}
		cookie := map[string]string{"Cookie": "WASID4D=" + ca.Cookie("WASID4D")}
		// A serves (and caches) the session, then B closes it.
		for range 3 {
			if got := currentUser(t, testkit.NewClient(t, a.url), cookie); got != "carol" {
				t.Fatalf("before logout on A: got %q", got)
			}
		}
		if r := browser(t, b, ca).Do("GET", "/rest/$directory/logout", nil, ""); r.Status != 200 {
			t.Fatalf("logout on B: %d %s", r.Status, r.Body)
		}
		deadline := time.Now().Add(time.Second)
		for currentUser(t, testkit.NewClient(t, a.url), cookie) != "" {
			if time.Now().After(deadline) {
				t.Fatal("A still serves the session a second after B closed it")
			}
		}
	})

	t.Run("TenWrongPasswordsOverThreeInstancesTripTheThrottleOnAll", func(t *testing.T) {
		for i := range 10 {
			if r := login(testkit.NewClient(t, nodes[i%3].url), "bob", "wrong"); r.Status != 401 {
				t.Fatalf("wrong password %d on %s: %d %s", i+1, nodes[i%3].name, r.Status, r.Body)
			}
		}
		for _, n := range nodes {
			r := login(testkit.NewClient(t, n.url), "bob", "secret")
			if r.Status != 429 || r.ErrCode() != 1909 || r.Header.Get("Retry-After") == "" {
				t.Fatalf("on %s after ten failures: %d %s (Retry-After %q), want 429 / 1909", n.name, r.Status, r.Body, r.Header.Get("Retry-After"))
			}
		}
	})

	t.Run("InstancesClosedAbruptlyOrGracefullyLoseNoSession", func(t *testing.T) {
		cx, cy := browser(t, a, nil), browser(t, b, nil)
		if r := login(cx, "xavier", "secret"); r.Status != 200 {
			t.Fatalf("login on A: %d", r.Status)
		}
		if r := login(cy, "yann", "secret"); r.Status != 200 {
			t.Fatalf("login on B: %d", r.Status)
		}
		// A stops abruptly: connections dropped, nothing closed in order (its store
		// connection stays until the test ends, as a killed process's socket would linger).
		a.srv.http.Close()
		<-a.done
		// B shuts down gracefully: it finishes its requests and closes everything it holds.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := b.srv.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		<-b.done
		if err := b.srv.Close(); err != nil {
			t.Fatal(err)
		}
		if got := currentUser(t, browser(t, c, cx), nil); got != "xavier" {
			t.Fatalf("A's session on C after A stopped: got %q", got)
		}
		if got := currentUser(t, browser(t, c, cy), nil); got != "yann" {
			t.Fatalf("B's session on C after B shut down: got %q", got)
		}
	})

	t.Run("RedisDownAnswers503ThenRecovers", func(t *testing.T) {
		cz := browser(t, c, nil)
		if r := login(cz, "zoe", "secret"); r.Status != 200 {
			t.Fatalf("login: %d", r.Status)
		}
		redis.Stop()
		r := cz.Do("GET", "/rest/$directory/currentUser", nil, "")
		if r.Status != 503 || r.ErrCode() != 1912 || r.Header.Get("Retry-After") == "" {
			t.Fatalf("session request with Redis down: %d %s (Retry-After %q), want 503 / 1912", r.Status, r.Body, r.Header.Get("Retry-After"))
		}
		if r := login(testkit.NewClient(t, c.url), "zoe", "secret"); r.Status != 503 || r.ErrCode() != 1912 {
			t.Fatalf("login with Redis down: %d %s, want 503 / 1912", r.Status, r.Body)
		}
		if r := cz.Do("GET", "/readyz", nil, ""); r.Status != 503 || !strings.Contains(string(r.Body), "sessions") {
			t.Fatalf("/readyz with Redis down: %d %s, want 503 naming sessions", r.Status, r.Body)
		}
		if r := cz.Do("GET", "/healthz", nil, ""); r.Status != 200 {
			t.Fatalf("/healthz with Redis down: %d, want 200", r.Status)
		}
		redis.Restart() // empty: no persistence in tests
		deadline := time.Now().Add(time.Minute)
		for {
			r := login(testkit.NewClient(t, c.url), "zoe", "secret")
			if r.Status == 200 {
				break
			}
			if r.Status != 503 || time.Now().After(deadline) {
				t.Fatalf("login after Redis came back: %d %s", r.Status, r.Body)
			}
			time.Sleep(50 * time.Millisecond) // polling for the reconnection
		}
		if r := cz.Do("GET", "/readyz", nil, ""); r.Status != 200 {
			t.Fatalf("/readyz after recovery: %d %s", r.Status, r.Body)
		}
	})
}

// TestClusterLicenceCapIsGlobal: 3 instances × 64 clients race logins against --licenses N:
// never more than N held at any moment, and after the logouts none is left.
func TestClusterLicenceCapIsGlobal(t *testing.T) {
	const cap, perNode = 10, 64
	redis := redistest.Start(t)
	nodes := cluster(t, redis, "licences", Config{Now: time.Now, Licenses: cap,
		Throttle: sessions.ThrottleConfig{MaxPerIP: 100000}})
	watch := nodes[0].srv.Sessions()

	stop := make(chan struct{})
	over := make(chan string, 1)
	var watcher sync.WaitGroup
	watcher.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if st, err := watch.Stats(context.Background()); err == nil && st.Licensed > cap {
				over <- fmt.Sprintf("%d licences held, cap %d", st.Licensed, cap)
				return
			}
		}
	})
	var ok, refused atomic.Int64
	var mu sync.Mutex
	var winners []*testkit.Client
	var wg sync.WaitGroup
	for _, n := range nodes {
		for i := range perNode {
			wg.Go(func() {
				cl := testkit.NewClient(t, n.url)
				switch r := login(cl, fmt.Sprintf("u%s%d", n.name, i), "secret"); {
				case r.Status == 200:
					ok.Add(1)
					mu.Lock()
					winners = append(winners, cl)
					mu.Unlock()
				case r.Status == 402 && r.ErrCode() == 1823:
					refused.Add(1)
				default:
					t.Errorf("login on %s: %d %s", n.name, r.Status, r.Body)
				}
			})
		}
	}
	wg.Wait()
	close(stop)
	watcher.Wait()
	select {
	case msg := <-over:
		t.Fatal(msg)
	default:
	}
	t.Logf("%d logins got a licence, %d were refused (402)", ok.Load(), refused.Load())
	if ok.Load() != cap || refused.Load() != 3*perNode-cap {
		t.Fatalf("%d logins succeeded and %d were refused, want %d and %d", ok.Load(), refused.Load(), cap, 3*perNode-cap)
	}
	if st, err := watch.Stats(context.Background()); err != nil || st.Licensed != cap {
		t.Fatalf("after the race: %+v %v, want %d licences held", st, err, cap)
	}
	for i, cl := range winners {
		if r := browser(t, nodes[i%3], cl).Do("POST", "/rest/$directory/logout", nil, ""); r.Status != 200 {
			t.Fatalf("logout: %d %s", r.Status, r.Body)
		}
	}
	if st, err := watch.Stats(context.Background()); err != nil || st.Licensed != 0 {
		t.Fatalf("after every logout: %+v %v, want no licence held", st, err)
	}
}

// TestClusterRefusesToStart: an instance whose --licenses differs from the cluster's, or a
// Redis that may evict keys, is refused at start with a message saying why.
func TestClusterRefusesToStart(t *testing.T) {
	t.Run("DifferentLicences", func(t *testing.T) {
		redis := redistest.Start(t)
		startNode(t, "A", redis.URL(), "cap", Config{Now: time.Now, Licenses: 3})
		_, err := New(t.Context(), Config{Dir: clusterApp(t), NoWatch: true, Store: redis.URL(), StoreNamespace: "cap", Licenses: 4})
		if err == nil || !strings.Contains(err.Error(), "--licenses 4 differs from the cluster's 3") {
			t.Fatalf("got %v, want a refusal naming both caps", err)
		}
	})
	t.Run("EvictingRedis", func(t *testing.T) {
		redis := redistest.Start(t, "--maxmemory-policy", "allkeys-lru")
		_, err := New(t.Context(), Config{Dir: clusterApp(t), NoWatch: true, Store: redis.URL()})
		if err == nil || !strings.Contains(err.Error(), "noeviction") {
			t.Fatalf("got %v, want a refusal naming noeviction", err)
		}
	})
	t.Run("UnknownStore", func(t *testing.T) {
		_, err := New(t.Context(), Config{Dir: clusterApp(t), NoWatch: true, Store: "memcached://x"})
		if err == nil || !strings.Contains(err.Error(), "--store") {
			t.Fatalf("got %v, want a refusal naming --store", err)
		}
	})
}
