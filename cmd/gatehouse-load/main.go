// Command gatehouse-load puts a gatehouse server under load and reports its throughput and
// latency: N concurrent keep-alive clients, each with its own cookie jar (one browser
// each), run one scenario for a fixed time or a fixed number of requests.
//
//	gatehouse-load [--scenario login|authentify|list|function] [--clients 8]
//	               [--duration 10s | --requests N] [--url http://127.0.0.1:8044]
//	               [--app .] [--user U --password P] [--compare-bare]
//
// Without --url it builds cmd/gatehouse and runs it on a copy of the demo app (--app,
// default the current folder: run it from the repository root), with the access log off. The authentify scenario needs force login mode: the tool turns forceLogin on in its
// copy (with --url, the server must already be in that mode).
//
// --compare-bare also runs the scenario against a bare gorilla/mux handler that answers the
// JSON gatehouse answered (captured from it first), from as many clients holding the same
// session cookie, and prints gatehouse's throughput as a percentage of the bare handler's.
// The two take turns in ten phases, so that whatever else the machine does falls on both;
// each gets the whole --duration (or --requests).
//
// The clients are the standard library's. Each server runs in a process of its own: the
// gatehouse binary, and this program again as the bare gorilla/mux baseline.
//
// Load stays on this machine: --url must name a loopback address, and a run is bounded in
// time and in requests. The exit code is 1 when any measured request failed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"
)

func main() {
	if spec := os.Getenv(bareSpecEnv); spec != "" {
		if err := serveBare(spec); err != nil {
			fmt.Fprintln(os.Stderr, "gatehouse-load (bare server):", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// comparePhases is how many turns each server takes with --compare-bare.
const comparePhases = 10

// errFailures makes run exit 1 after a run whose report shows failed requests.
var errFailures = errors.New("some requests failed")

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse-load:", err)
		return 2
	}
	err = loadTest(ctx, cfg, stdout)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errFailures):
		return 1
	}
	fmt.Fprintln(stderr, "gatehouse-load:", err)
	return 1
}

// loadTest runs cfg's scenario against gatehouse (and the bare handler) and prints the
// report.
func loadTest(ctx context.Context, cfg *config, out io.Writer) error {
	sc := scenarios[cfg.Scenario]
	target, where := cfg.URL, cfg.URL
	if target == "" {
		gh, err := startGatehouse(ctx, cfg.App, sc.forceLogin)
		if err != nil {
			return err
		}
		defer gh.Close()
		target, where = gh.url, gh.url+" (the gatehouse binary on a copy of "+cfg.App+", access log off)"
	}
	creds := cfg.credentials()
	fmt.Fprintf(out, "scenario %s: %s\n", sc.name, sc.describe())
	fmt.Fprintf(out, "%d clients, %s, against %s\n\n", cfg.Clients, cfg.bound(), where)

	gl, err := newLoad(ctx, target, sc, creds, cfg, nil)
	if err != nil {
		return err
	}
	defer gl.close()
	if !cfg.CompareBare {
		gate := gl.run(ctx, cfg.Duration, cfg.Requests)
		fmt.Fprintln(out, "gatehouse")
		gate.print(out)
		if gate.failed() > 0 {
			return errFailures
		}
		return nil
	}

	answer, err := capture(ctx, target, sc, creds)
	if err != nil {
		return err
	}
	srv, err := startBare(ctx, sc, answer)
	if err != nil {
		return err
	}
	defer srv.Close()
	bl, err := newLoad(ctx, srv.url, sc, creds, cfg, answer.cookies)
	if err != nil {
		return err
	}
	defer bl.close()
	// The two servers take turns, in phases, so that whatever else the machine does falls
	// on both alike.
	gate, bare := &loadResult{statuses: map[string]int{}}, &loadResult{statuses: map[string]int{}}
	phases := comparePhases
	if cfg.Requests > 0 {
		phases = min(phases, cfg.Requests) // at least one request a phase
	}
	for i := range phases {
		d, n := cfg.Duration/time.Duration(phases), cfg.Requests/phases
		if i == phases-1 {
			d, n = cfg.Duration-d*time.Duration(phases-1), cfg.Requests-n*(phases-1)
		}
		gate.add(gl.run(ctx, d, n))
		bare.add(bl.run(ctx, d, n))
	}
	fmt.Fprintf(out, "gatehouse and the bare handler took turns, %d phases each\n\n", phases)
	fmt.Fprintln(out, "gatehouse")
	gate.print(out)
	fmt.Fprintln(out, "\nbare gorilla/mux handler answering the same JSON, same clients and cookies")
	bare.print(out)
	if bare.rate() > 0 {
		fmt.Fprintf(out, "\ngatehouse throughput = %.3g%% of the bare handler's\n", 100*gate.rate()/bare.rate())
	}
	failed := gate.failed() + bare.failed()
	if failed > 0 {
		return errFailures
	}
	return nil
}
