package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary play the bare baseline server, as the real binary does
// (startBare runs os.Executable()).
func TestMain(m *testing.M) {
	if spec := os.Getenv(bareSpecEnv); spec != "" {
		if err := serveBare(spec); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// demoApp is the repository root, the demo app.
const demoApp = "../.."

// TestShortRuns runs each scenario briefly against a gatehouse process on the demo
// app: every request must succeed and the report must say so.
func TestShortRuns(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"LoginThenCurrentUserAgainstBare", []string{"--scenario", "login", "--requests", "100", "--clients", "2", "--compare-bare"},
			[]string{"scenario login", "requests  100 in", "statuses  200: 100", "bare gorilla/mux handler", "gatehouse throughput = "}},
		{"List", []string{"--scenario", "list", "--requests", "20", "--clients", "1"},
			[]string{"GET /rest/Customers?$filter=", "statuses  200: 20"}},
		{"FunctionForDuration", []string{"--scenario", "function", "--duration", "200ms", "--clients", "1"},
			[]string{"POST /rest/$catalog/whoAmI", "1 clients, 200ms", "req/s"}},
		{"AuthentifyInForceLoginMode", []string{"--scenario", "authentify", "--requests", "2", "--clients", "1"},
			[]string{"force login mode", "statuses  200: 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errs bytes.Buffer
			args := append([]string{"--app", demoApp}, tt.args...)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if code := run(ctx, args, &out, &errs); code != 0 {
				t.Fatalf("exit code %d, want 0\nstdout:\n%s\nstderr:\n%s", code, &out, &errs)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("report lacks %q:\n%s", w, &out)
				}
			}
			if strings.Contains(out.String(), "ERRORS") {
				t.Errorf("report shows errors:\n%s", &out)
			}
		})
	}
}

// TestFailuresAreReported logs in with a wrong password: the run stops with a clear error.
func TestFailuresAreReported(t *testing.T) {
	var out, errs bytes.Buffer
	code := run(context.Background(), []string{"--app", demoApp, "--requests", "10", "--user", "ann@example.com", "--password", "wrong"}, &out, &errs)
	if code != 1 {
		t.Fatalf("exit code %d, want 1\nstdout:\n%s\nstderr:\n%s", code, &out, &errs)
	}
	if got, want := errs.String(), `login as "ann@example.com": 401`; !strings.Contains(got, want) {
		t.Fatalf("stderr %q, want it to contain %q", got, want)
	}
}

// TestRejectedFlags covers the bounds: loopback only, bounded runs, known scenarios.
func TestRejectedFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"RemoteURL", []string{"--url", "http://example.com:8044"}, "only loopback"},
		{"RemoteIP", []string{"--url", "http://10.0.0.1:8044"}, "only loopback"},
		{"NotHTTP", []string{"--url", "ftp://127.0.0.1/"}, "want http://"},
		{"UnknownScenario", []string{"--scenario", "nope"}, `want one of authentify, function, list, login`},
		{"TooLong", []string{"--duration", "11m"}, "at most 10m0s"},
		{"TooManyRequests", []string{"--requests", "10000001"}, "--requests must be"},
		{"NoClients", []string{"--clients", "0"}, "--clients must be"},
		{"UserWithoutPassword", []string{"--user", "ann"}, "go together"},
		{"StrayArgument", []string{"extra"}, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errs bytes.Buffer
			if code := run(context.Background(), tt.args, &out, &errs); code != 2 {
				t.Fatalf("exit code %d, want 2 (stderr %s)", code, &errs)
			}
			if !strings.Contains(errs.String(), tt.want) {
				t.Fatalf("stderr %q, want it to contain %q", errs.String(), tt.want)
			}
		})
	}
}

// TestLoopbackURLsAccepted checks the addresses --url may name.
func TestLoopbackURLsAccepted(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:8044", "http://localhost:8044", "http://[::1]:8044", "http://127.1.2.3/"} {
		if err := checkLoopback(u); err != nil {
			t.Errorf("checkLoopback(%q): %v, want nil", u, err)
		}
	}
}

// TestHistogram checks bucketing and quantiles against exact values.
func TestHistogram(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Microsecond)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, time.Millisecond}}
	for _, tt := range tests {
		got := h.quantile(tt.q)
		// a quantile is the upper edge of its bucket: at most 1/32 above the exact value
		if got < tt.want || float64(got) > float64(tt.want)*(1+1.0/subBuckets) {
			t.Errorf("quantile(%v): got %v, want %v (+3%%)", tt.q, got, tt.want)
		}
	}
	if got, want := h.max, time.Millisecond; got != want {
		t.Errorf("max: got %v, want %v", got, want)
	}
	for v := uint64(0); v < 1<<20; v += 7 {
		if i := bucket(v); upper(i) < v || (i > 0 && upper(i-1) >= v) {
			t.Fatalf("value %d in bucket %d holding (%d, %d]", v, i, upper(i-1), upper(i))
		}
	}
	var empty histogram
	if got := empty.quantile(0.5); got != 0 {
		t.Errorf("empty quantile: got %v, want 0", got)
	}
}
