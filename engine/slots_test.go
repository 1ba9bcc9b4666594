package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dop251/goja"
)

// holdGlobal blocks the call that first reads it until released.
type holdGlobal struct{ reached, release chan struct{} }

func (h *holdGlobal) Name() string { return "hold" }
func (h *holdGlobal) Value(context.Context, *goja.Runtime) (goja.Value, error) {
	h.reached <- struct{}{}
	<-h.release
	return goja.Undefined(), nil
}

// TestConcurrentCallsBounded: with every slot taken, a call waits at most the timeout,
// or its context; once a slot frees, calls run again.
func TestConcurrentCallsBounded(t *testing.T) {
	h := &holdGlobal{reached: make(chan struct{}, 2), release: make(chan struct{})}
	e, sc := newTestEngine(t, map[string]string{"DataStore.js": `
exports.held = function () { hold; return "held"; };
exports.quick = function () { return "quick"; };
`}, func(o *Options) { o.MaxConcurrent = 1; o.Timeout = 300 * time.Millisecond; o.Globals = []Global{h} })

	done := make(chan error, 1)
	go func() {
		_, err := e.Call(context.Background(), sc, newFakeSession(), "DataStore", "held", nil)
		done <- err
	}()
	<-h.reached // the only slot is taken

	if _, err := e.Call(context.Background(), sc, newFakeSession(), "DataStore", "quick", nil); !errors.Is(err, ErrTimeout) {
		t.Fatalf("call with every slot busy: got %v, want ErrTimeout", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Call(ctx, sc, newFakeSession(), "DataStore", "quick", nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: got %v", err)
	}
	close(h.release)
	<-done // the held call ends (interrupted by its own timeout, or done): its slot frees
	if got := mustCall(t, e, sc, newFakeSession(), "quick"); got != "quick" {
		t.Fatalf("after the slot freed: %v", got)
	}
}
