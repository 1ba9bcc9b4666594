package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/redis/rueidis"

	"gatehouse/internal/redistest"
	"gatehouse/sessions"
	"gatehouse/sessions/redisstore"
)

// benchNode is a whole server (New) behind a loopback HTTP server, for benchmarks.
func benchNode(b *testing.B, store, ns string, licences int) string {
	b.Helper()
	cfg := Config{
		Dir: clusterApp(b), NoWatch: true,
		Store: store, StoreNamespace: ns, Licenses: licences, Now: time.Now,
		Throttle: sessions.ThrottleConfig{MaxPerIP: 1 << 30, MaxPerUser: 1 << 30},
		Logger:   slog.New(slog.DiscardHandler), CookieHashKey: strings.Repeat("07", 32),
	}
	srv, err := New(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	b.Cleanup(func() { srv.http.Close(); <-done; srv.Close() })
	return "http://" + ln.Addr().String()
}

// benchClient is a keep-alive client with room for the benchmark's concurrency.
func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}, Timeout: time.Minute}
}

// request is one benchmark request: it returns the status.
type request func(c *http.Client) (int, error)

func get(url, cookie string) request {
	return func(c *http.Client) (int, error) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
}

func loginRequest(url string) request {
	var n atomic.Int64
	return func(c *http.Client) (int, error) {
		req, _ := http.NewRequest(http.MethodPost, url+"/rest/$directory/login", nil)
		req.Header.Set("username-4D", fmt.Sprintf("user%d", n.Add(1)))
		req.Header.Set("password-4D", "secret")
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
}

type variant struct {
	name string
	req  request
}

// sideBySide runs b.N requests of each variant from clients concurrent clients,
// interleaved in rounds so that the machine's noise falls on all of them alike, and
// reports each variant's requests per second and each one's percentage of the first's.
func sideBySide(b *testing.B, clients int, vs ...variant) {
	b.Helper()
	hc := benchClient()
	for _, v := range vs { // warm up, and check the answers
		if code, err := v.req(hc); err != nil || code != 200 {
			b.Fatalf("%s: %d %v", v.name, code, err)
		}
	}
	elapsed := make([]time.Duration, len(vs))
	round := clients * 20
	b.ResetTimer()
	for done := 0; done < b.N; done += round {
		n := min(round, b.N-done)
		for i, v := range vs {
			var next atomic.Int64
			var wg sync.WaitGroup
			start := time.Now()
			for range clients {
				wg.Go(func() {
					for next.Add(1) <= int64(n) {
						if code, err := v.req(hc); err != nil || code != 200 {
							b.Errorf("%s: %d %v", v.name, code, err)
							return
						}
					}
				})
			}
			wg.Wait()
			elapsed[i] += time.Since(start)
		}
	}
	b.StopTimer()
	for i, v := range vs {
		rate := float64(b.N) / elapsed[i].Seconds()
		b.ReportMetric(rate, v.name+"-req/s")
		if i > 0 {
			b.ReportMetric(100*elapsed[0].Seconds()/elapsed[i].Seconds(), v.name+"-pct-of-"+vs[0].name)
		}
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkClusterCurrentUser: SPEC §9, "GET /rest/$directory/currentUser" of a logged-in
// session over HTTP, 8 keep-alive clients: a bare gorilla/mux handler writing the same
// JSON, gatehouse on the Redis store (the session, opened on another instance, served from
// the instance's cache), and
// gatehouse on the memory store, interleaved. Target: redis ≥ 85% of bare.
func BenchmarkClusterCurrentUser(b *testing.B) {
	redis := redistest.Start(b)
	const path = "/rest/$directory/currentUser"
	onRedis := benchNode(b, redis.URL(), "bench-cu", 0)
	onMemory := benchNode(b, "memory", "", 0)
	cookie := func(base string) (string, string) {
		req, _ := http.NewRequest(http.MethodPost, base+"/rest/$directory/login", nil)
		req.Header.Set("username-4D", "ann")
		req.Header.Set("password-4D", "secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("login: %v %v", resp, err)
		}
		resp.Body.Close()
		ck := resp.Cookies()[0]
		r2, _ := http.NewRequest(http.MethodGet, base+path, nil)
		r2.AddCookie(ck)
		resp, err = http.DefaultClient.Do(r2)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return ck.Name + "=" + ck.Value, string(body)
	}
	// Logged in on another instance of the cluster: the instance measured has not written
	// the session itself, so it serves it from its cache at once (an instance reads its
	// own writes through Redis for two seconds, see redisstore).
	redisCookie, body := cookie(benchNode(b, redis.URL(), "bench-cu", 0))
	memCookie, _ := cookie(onMemory)
	r := mux.NewRouter()
	r.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		io.WriteString(w, body)
	}).Methods(http.MethodGet)
	bare := httptest.NewServer(r)
	defer bare.Close()
	sideBySide(b, 8,
		variant{"bare", get(bare.URL+path, redisCookie)},
		variant{"redis", get(onRedis+path, redisCookie)},
		variant{"memory", get(onMemory+path, memCookie)})
}

// BenchmarkClusterLogin: SPEC §9, "POST /rest/$directory/login" (onRESTAuthentication in
// JavaScript, no bcrypt; each login opens a new session with a licence) over HTTP, 8
// clients, the memory store against the Redis store, interleaved. Target: redis ≥ 60%.
//
// It also reports what Redis did per login: the scripts it ran (redis-scripts/login, each
// one round trip) and its CPU time (redis-cpu-µs/login, from INFO cpu), the warm-up login
// included.
func BenchmarkClusterLogin(b *testing.B) {
	redis := redistest.Start(b)
	onMemory := benchNode(b, "memory", "", 0)
	onRedis := benchNode(b, redis.URL(), "bench-login", 0)
	scripts0, cpu0 := redisWork(b, redis)
	sideBySide(b, 8, variant{"memory", loginRequest(onMemory)}, variant{"redis", loginRequest(onRedis)})
	scripts, cpu := redisWork(b, redis)
	b.ReportMetric(float64(scripts-scripts0)/float64(b.N), "redis-scripts/login")
	b.ReportMetric(float64((cpu-cpu0).Microseconds())/float64(b.N), "redis-cpu-µs/login")
}

// redisWork reads from srv's INFO how many scripts it has run (EVALSHA and EVAL) and how
// much CPU time it has used.
func redisWork(b *testing.B, srv *redistest.Server) (scripts int64, cpu time.Duration) {
	b.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	info, err := c.Do(context.Background(), c.B().Info().Section("all").Build()).ToString()
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(info) {
		name, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		switch name {
		case "cmdstat_evalsha", "cmdstat_eval":
			calls, _, _ := strings.Cut(strings.TrimPrefix(v, "calls="), ",")
			n, err := strconv.ParseInt(calls, 10, 64)
			if err != nil {
				b.Fatalf("%s: %v", line, err)
			}
			scripts += n
		case "used_cpu_sys", "used_cpu_user":
			sec, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatalf("%s: %v", line, err)
			}
			cpu += time.Duration(sec * float64(time.Second))
		}
	}
	return scripts, cpu
}

// BenchmarkClusterLicenceRace: SPEC §9, 3 instances × 64 clients racing logins against
// --licenses 10 on one Redis, then every winner logging out. Reports the most licences
// ever seen held (must be ≤ 10), the licences left after the logouts (must be 0) and the
// logins per second.
func BenchmarkClusterLicenceRace(b *testing.B) {
	const cap, perNode = 10, 64
	redis := redistest.Start(b)
	var urls []string
	for range 3 {
		urls = append(urls, benchNode(b, redis.URL(), "bench-race", cap))
	}
	st, err := redisstore.Open(context.Background(), redisstore.Options{URL: redis.URL(), Namespace: "bench-race", Licences: cap})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	hc := benchClient()
	var most, leaked atomic.Int64
	var logins atomic.Int64
	var elapsed time.Duration
	b.ResetTimer()
	for range b.N {
		stop := make(chan struct{})
		var watcher sync.WaitGroup
		watcher.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if s, err := st.Stats(context.Background()); err == nil && int64(s.Licensed) > most.Load() {
					most.Store(int64(s.Licensed))
				}
			}
		})
		var mu sync.Mutex
		var cookies []string
		var wg sync.WaitGroup
		start := time.Now()
		for _, u := range urls {
			for range perNode {
				wg.Go(func() {
					req, _ := http.NewRequest(http.MethodPost, u+"/rest/$directory/login", nil)
					req.Header.Set("username-4D", "racer")
					req.Header.Set("password-4D", "secret")
					resp, err := hc.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					logins.Add(1)
					if resp.StatusCode == 200 {
						mu.Lock()
						cookies = append(cookies, resp.Cookies()[0].Name+"="+resp.Cookies()[0].Value)
						mu.Unlock()
					}
				})
			}
		}
		wg.Wait()
		elapsed += time.Since(start)
		close(stop)
		watcher.Wait()
		for i, ck := range cookies {
			if code, err := get(urls[i%3]+"/rest/$directory/logout", ck)(hc); err != nil || code != 200 {
				b.Fatalf("logout: %d %v", code, err)
			}
		}
		if s, err := st.Stats(context.Background()); err != nil {
			b.Fatal(err)
		} else {
			leaked.Add(int64(s.Licensed))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(most.Load()), "max-held")
	b.ReportMetric(float64(leaked.Load()), "leaked")
	b.ReportMetric(float64(logins.Load())/elapsed.Seconds(), "logins/s")
}
