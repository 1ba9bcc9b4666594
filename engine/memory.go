package engine

import (
	"errors"
	"log/slog"
	"math"
	goruntime "runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxHeap is Options.MaxHeap when it is zero and no GOMEMLIMIT is set.
const DefaultMaxHeap = 1 << 30

// ErrMemoryLimit is returned (wrapped) by a call that was stopped because the process
// heap passed Options.MaxHeap while it ran.
var ErrMemoryLimit = errors.New("engine: script stopped: the server is out of memory for scripts")

// Tuning of the memory watch. A call younger than memoryGrace is never stopped: a
// runaway allocation needs far longer than that to reach any sensible limit, and
// ordinary calls are done by then.
const (
	memoryEvery = 10 * time.Millisecond
	memoryGrace = 100 * time.Millisecond
	// memoryQuiet is the least time between two forced collections: a heap that stays
	// over the limit (garbage, or live data that is not the scripts') must not make the
	// watch collect without pause.
	memoryQuiet = time.Second
)

// maxHeap resolves Options.MaxHeap: negative disables the watch (0 returned); zero means
// three quarters of GOMEMLIMIT when one is set (past it the Go collector runs
// without pause, so scripts are stopped before), else DefaultMaxHeap.
func maxHeap(opt int64) uint64 {
	switch {
	case opt < 0:
		return 0
	case opt > 0:
		return uint64(opt)
	}
	if soft := debug.SetMemoryLimit(-1); soft > 0 && soft < math.MaxInt64 {
		return uint64(soft) / 4 * 3
	}
	return DefaultMaxHeap
}

// memoryWatch bounds what scripts can allocate. goja has no memory limit of its own and
// the Go heap is shared by every goroutine, so the watch looks at the whole process:
// while calls run, it samples the heap every memoryEvery; when the heap passes the
// limit it forces a collection, and if live data still passes it, it interrupts every
// call that has run for memoryGrace or longer. Those calls fail with ErrMemoryLimit and
// their runtimes are dropped, which frees what they held. A forced collection happens at
// most once per memoryQuiet.
//
// A built-in that allocates in one native step (new Array(1e9).fill(0), 'x'.repeat(2**31))
// cannot be interrupted before it returns; the watch cannot bound those.
type memoryWatch struct {
	limit   uint64        // bytes; 0 = no watch
	heap    func() uint64 // heap in use, garbage not yet swept included
	collect func() uint64 // runs a full collection, returns the live heap
	now     func() time.Time
	log     *slog.Logger

	mu      sync.Mutex
	calls   map[*runtime]*watched
	running bool      // the sampling goroutine is running
	quiet   time.Time // no forced collection before this
}

// watched is one call under the watch.
type watched struct {
	started time.Time
	stopped atomic.Bool // the watch interrupted this call
}

func newMemoryWatch(limit uint64, log *slog.Logger) *memoryWatch {
	return &memoryWatch{limit: limit, heap: heapInUse, collect: collectHeap, now: time.Now, log: log,
		calls: map[*runtime]*watched{}}
}

// enter puts a call that starts on rt under the watch. The sampling goroutine runs only
// while calls do.
func (mw *memoryWatch) enter(rt *runtime) *watched {
	// The runtime's own record, reused from call to call: it is in calls only while a
	// call runs, and written before it is put there.
	w := &rt.watch
	w.started = mw.now()
	w.stopped.Store(false)
	if mw.limit == 0 {
		return w
	}
	mw.mu.Lock()
	defer mw.mu.Unlock()
	mw.calls[rt] = w
	if !mw.running {
		mw.running = true
		go mw.loop()
	}
	return w
}

// leave takes rt's call off the watch. After it returns the watch no longer interrupts
// rt, so clearing the interrupt then leaves the runtime clean.
func (mw *memoryWatch) leave(rt *runtime) {
	if mw.limit == 0 {
		return
	}
	mw.mu.Lock()
	delete(mw.calls, rt)
	mw.mu.Unlock()
}

func (mw *memoryWatch) loop() {
	t := time.NewTicker(memoryEvery)
	defer t.Stop()
	for range t.C {
		mw.mu.Lock()
		if len(mw.calls) == 0 {
			mw.running = false
			mw.mu.Unlock()
			return
		}
		mw.mu.Unlock()
		mw.check()
	}
}

// check stops the calls old enough to be the culprits when live data passes the limit.
// It returns how many it stopped.
func (mw *memoryWatch) check() int {
	if mw.heap() <= mw.limit || mw.now().Before(mw.quiet) {
		return 0
	}
	live := mw.collect()
	now := mw.now()
	mw.quiet = now.Add(memoryQuiet)
	if live <= mw.limit {
		return 0 // garbage, not live data: no alarm
	}
	stopped := 0
	mw.mu.Lock()
	for rt, w := range mw.calls {
		if now.Sub(w.started) >= memoryGrace && !w.stopped.Load() {
			w.stopped.Store(true)
			rt.vm.Interrupt(interruption{})
			stopped++
		}
	}
	mw.mu.Unlock()
	if stopped > 0 {
		mw.log.Warn("scripts stopped: the heap passed the scripts' memory limit", "calls", stopped,
			"liveMiB", live>>20, "limitMiB", mw.limit>>20)
	}
	return stopped
}

var heapMetrics = []string{"/memory/classes/heap/objects:bytes", "/gc/heap/live:bytes"}

// heapInUse returns the bytes of heap objects, live or not yet swept.
func heapInUse() uint64 {
	s := []metrics.Sample{{Name: heapMetrics[0]}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// collectHeap runs a full collection and returns the live heap it found.
func collectHeap() uint64 {
	goruntime.GC()
	s := []metrics.Sample{{Name: heapMetrics[1]}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
