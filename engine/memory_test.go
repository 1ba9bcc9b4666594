package engine

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/dop251/goja"
)

// TestMemoryLimitStopsRunawayAllocation runs scripts that allocate without bound under a
// long timeout: the memory watch stops them long before the timeout would, the client
// side gets ErrMemoryLimit, the memory comes back, and the engine goes on serving.
func TestMemoryLimitStopsRunawayAllocation(t *testing.T) {
	const limit = 64 << 20
	e, sc := newTestEngine(t, map[string]string{"DataStore.js": `
		exports.arrays = function () { let a = []; for (;;) a.push(new Array(1e5).fill(1)); };
		exports.objects = function () { const o = {}; for (let i = 0; ; i++) o["k" + i] = { i: i, s: "v" + i }; };
		exports.strings = function () { const a = []; for (let i = 0; ; i++) a.push("x".repeat(1000) + i); };
		exports.ok = function (n) { return n; };
	`}, func(o *Options) { o.Timeout = time.Minute; o.MaxHeap = limit })
	for _, name := range []string{"arrays", "objects", "strings"} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			_, err := e.Call(context.Background(), sc, nil, "DataStore", name, nil)
			if !errors.Is(err, ErrMemoryLimit) || errors.Is(err, ErrTimeout) {
				t.Fatalf("got %v, want ErrMemoryLimit", err)
			}
			if !strings.Contains(err.Error(), "DataStore."+name) {
				t.Errorf("error %q does not name the function", err)
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("stopped after %v: the timeout, not the memory watch, would have stopped it", d)
			}
			if live := collectHeap(); live > limit {
				t.Errorf("live heap %d MiB after the call, want under %d MiB: the runtime was kept", live>>20, limit>>20)
			}
			if got := mustCall(t, e, sc, nil, "ok", name); got != name {
				t.Errorf("after the stop: got %v, want %v", got, name)
			}
		})
	}
}

// TestMemoryLimitOff checks that a negative MaxHeap turns the watch off: a call that
// allocates a lot yet finishes is not stopped, and nothing is watched.
func TestMemoryLimitOff(t *testing.T) {
	e, sc := newTestEngine(t, map[string]string{"DataStore.js": `
		exports.big = function () { const a = []; for (let i = 0; i < 40; i++) a.push(new Array(1e5).fill(i)); return a.length; };
	`}, func(o *Options) { o.MaxHeap = -1; o.Timeout = time.Minute })
	if e.mem.limit != 0 {
		t.Fatalf("limit %d, want 0 (off)", e.mem.limit)
	}
	if got := mustCall(t, e, sc, nil, "big"); got != float64(40) {
		t.Fatalf("got %v, want 40", got)
	}
	if n := len(e.mem.calls); n != 0 {
		t.Fatalf("%d calls watched with the watch off", n)
	}
}

func TestMaxHeapDefault(t *testing.T) {
	old := debug.SetMemoryLimit(math.MaxInt64)
	defer debug.SetMemoryLimit(old)
	tests := []struct {
		name     string
		opt      int64
		memLimit int64
		want     uint64
	}{
		{"NoGOMEMLIMIT", 0, math.MaxInt64, DefaultMaxHeap},
		{"ThreeQuartersOfGOMEMLIMIT", 0, 400 << 20, 300 << 20},
		{"Explicit", 5 << 20, 400 << 20, 5 << 20},
		{"Off", -1, 400 << 20, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			debug.SetMemoryLimit(tt.memLimit)
			if got := maxHeap(tt.opt); got != tt.want {
				t.Fatalf("maxHeap(%d) with GOMEMLIMIT %d = %d, want %d", tt.opt, tt.memLimit, got, tt.want)
			}
		})
	}
}

// TestMemoryWatchPolicy drives the watch's decision with a fake heap and clock: it stops
// only calls past the grace period, only when live data (not garbage) passes the limit,
// each call once, and a false alarm spares the next samples from forced collections.
func TestMemoryWatchPolicy(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var heap, live uint64
	collections := 0
	var logs bytes.Buffer
	mw := newMemoryWatch(100, slog.New(slog.NewTextHandler(&logs, nil)))
	mw.now = func() time.Time { return now }
	mw.heap = func() uint64 { return heap }
	mw.collect = func() uint64 { collections++; return live }
	mw.running = true // no sampling goroutine: the test calls check itself

	old, young := &runtime{vm: goja.New()}, &runtime{vm: goja.New()}
	mw.enter(old)
	interrupted := func(rt *runtime) bool {
		_, err := rt.vm.RunString("1")
		rt.vm.ClearInterrupt()
		var ie *goja.InterruptedError
		return errors.As(err, &ie)
	}

	steps := []struct {
		name            string
		heap, live      uint64
		advance         time.Duration
		enterYoung      bool // a second call starts at this step
		wantStopped     int
		wantCollections int
	}{
		{"UnderTheLimit", 90, 90, 0, false, 0, 0},
		{"GarbageOnly", 150, 60, 0, false, 0, 1},
		{"QuietAfterAFalseAlarm", 150, 150, memoryQuiet / 2, false, 0, 1},
		{"LiveDataOverTheLimit", 150, 150, memoryQuiet, true, 1, 2},
		{"QuietAfterAnAlarm", 150, 150, memoryQuiet / 2, false, 0, 2},
		{"YoungCallStoppedPastGrace", 150, 150, memoryQuiet, false, 1, 3},
		{"EachCallStoppedOnce", 150, 150, memoryQuiet, false, 0, 4},
	}
	for _, s := range steps {
		heap, live = s.heap, s.live
		now = now.Add(s.advance)
		if s.enterYoung {
			mw.enter(young)
		}
		if got := mw.check(); got != s.wantStopped {
			t.Fatalf("%s: stopped %d calls, want %d", s.name, got, s.wantStopped)
		}
		if collections != s.wantCollections {
			t.Fatalf("%s: %d forced collections, want %d", s.name, collections, s.wantCollections)
		}
		if s.name == "LiveDataOverTheLimit" && (!interrupted(old) || interrupted(young)) {
			t.Fatalf("%s: want the old call interrupted and the young one running", s.name)
		}
	}
	if !interrupted(young) {
		t.Fatal("the young call, past its grace, was not interrupted")
	}
	if got := strings.Count(logs.String(), "scripts stopped"); got != 2 {
		t.Fatalf("%d warnings logged, want one per stop:\n%s", got, logs.String())
	}
	mw.leave(old)
	mw.leave(young)
	if len(mw.calls) != 0 {
		t.Fatalf("%d calls still watched after leaving", len(mw.calls))
	}
}
