package engine

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"
)

//go:embed harden.js
var hardenSource string

// Helper programs, compiled once for every runtime of the process.
var (
	hardenProgram  = goja.MustCompile("gatehouse:harden", hardenSource, true)
	rethrowProgram = goja.MustCompile("gatehouse:rethrow", "(function (e) { throw e; })", true)
)

// interruption is the value a runtime is interrupted with; the call state
// says why (deadline, cancelled request, or a failed host binding).
type interruption struct{}

// runtime is one goja runtime with the sandbox installed. It belongs to one
// goroutine at a time: the pool hands it out and takes it back.
type runtime struct {
	e   *Engine
	vm  *goja.Runtime
	cur *call // the call running on this runtime, nil between calls

	state call    // what cur points to during a call; zeroed after it
	watch watched // the memory watch's record of the call (memoryWatch.enter)
	alarm *alarm  // its timer interrupts at the call's deadline or its caller's end (arm, disarm)
	// rang carries each firing of the timer to disarm: true when it interrupted the
	// call, false when it found the caller still there and armed itself again.
	rang chan bool

	session   *goja.Object // the object behind the Session global
	protectFn goja.Callable
	protected func()
	rethrow   goja.Callable
	parse     goja.Callable // JSON.parse
	stringify goja.Callable // JSON.stringify
	toString  goja.Callable // String
	errorCtor map[string]*goja.Object
	visiting  []*goja.Object // export's buffer
	exportFn  func()         // exportProtected, made once
	exportIn  goja.Value     // export's value and results, for exportFn
	exportOut any
	exportErr *exportError

	// What the runtime keeps for the script set it last ran (useSet): shared
	// modules (shared.go), evaluated and frozen on this runtime, by file, and
	// the prepared globals (PreparedGlobal), by index in Options.Globals.
	set      *Scripts
	shared   map[string]*goja.Object
	prepared []func(context.Context) (goja.Value, error)
	exported map[exportKey]export // their functions, looked up once
	freeze   goja.Callable
}

// call is the state of one call on a runtime. Host bindings read it instead
// of capturing anything, so the runtime carries nothing from one call to the
// next.
type call struct {
	ctx      context.Context // the call's context, with the timeout: see context
	cancel   context.CancelFunc
	deadline time.Time       // the call's deadline (the timeout, or the caller's if sooner)
	parent   context.Context // the caller's context
	scripts  *Scripts        // the set the call runs on
	session  Session         // nil when the call has no session
	loading  bool            // load-time inspection: host globals are not available
	file     string          // the module the call runs

	modules   map[string]*goja.Object // module objects of this call, by file
	globals   []goja.Value            // Options.Globals, resolved on first use
	storage   *storage
	loggedOut bool
	failure   error    // a host binding failed; the call ends with this error
	mem       *watched // the call under the memory watch
}

// expired reports whether the call's deadline has passed or its context
// ended. It reads the clock rather than waiting for ctx's timer, which may run
// late on a busy machine.
func (c *call) expired() bool {
	return c.parent.Err() != nil || !time.Now().Before(c.deadline)
}

// context returns the call's context: the caller's, ending at the call's
// deadline. It is made on first use (by a binding that waits or queries), as
// most calls need none.
func (c *call) context() context.Context {
	if c.ctx == nil {
		c.ctx, c.cancel = context.WithDeadline(c.parent, c.deadline)
	}
	return c.ctx
}

// alarm is what the deadline timer holds of its runtime. A stopped timer may
// stay in the Go runtime's timer heap until its time would have come, so it
// must not keep a dropped runtime (half a megabyte, or far more when a script
// ran away) alive for that long: release cuts the link.
//
// The same timer watches the caller: a running call is woken every cancelPoll to look
// at its context (Err: a context that cannot end costs a look and nothing else), and
// interrupted when it has ended. A call that ends
// sooner (nearly all of them) never sees the timer fire, where registering with the
// caller's context (context.AfterFunc) cost every call a registration and its removal.
type alarm struct {
	rt    atomic.Pointer[runtime]
	timer *time.Timer // set before it is first armed, so that ring may read it

	mu       sync.Mutex      // guards what the call running now is watched for
	deadline time.Time       // the call's deadline
	caller   context.Context // the call's caller; nil between calls
}

// cancelPoll is how often a running call looks at whether its caller has gone: a
// cancelled request's script is interrupted within it.
const cancelPoll = 50 * time.Millisecond

func (a *alarm) ring() {
	if rt := a.rt.Load(); rt != nil {
		rt.rang <- a.check(rt)
	}
}

// check runs when the timer fires: it interrupts the call when its deadline has come or
// its caller has gone, and reports true; otherwise it arms the timer again.
func (a *alarm) check(rt *runtime) bool {
	a.mu.Lock()
	deadline, caller := a.deadline, a.caller
	a.mu.Unlock()
	now := time.Now()
	if now.Before(deadline) && (caller == nil || caller.Err() == nil) {
		a.timer.Reset(alarmWait(now, deadline))
		return false
	}
	rt.vm.Interrupt(interruption{})
	return true
}

// alarmWait is how long the timer waits from now: until the deadline, or the next look at
// the caller if that comes first.
func alarmWait(now, deadline time.Time) time.Duration { return min(deadline.Sub(now), cancelPoll) }

// arm starts the runtime's timer for a call ending at deadline, whose caller's context
// is caller.
func (rt *runtime) arm(now, deadline time.Time, caller context.Context) {
	if rt.alarm == nil {
		a := &alarm{}
		a.rt.Store(rt)
		a.timer = time.AfterFunc(time.Duration(math.MaxInt64), a.ring)
		a.timer.Stop()
		rt.alarm = a
	}
	a := rt.alarm
	a.mu.Lock()
	a.deadline, a.caller = deadline, caller
	a.mu.Unlock()
	a.timer.Reset(alarmWait(now, deadline))
}

// release is called on a runtime that is dropped, after its last call.
func (rt *runtime) release() {
	if rt.alarm != nil {
		rt.alarm.rt.Store(nil)
	}
}

// disarm stops the timer; when it has fired already, it waits for that firing to
// end, so that clearing the interrupt afterwards leaves the runtime clean. A firing
// that armed the timer again is followed by another stop.
func (rt *runtime) disarm() {
	for !rt.alarm.timer.Stop() {
		if interrupted := <-rt.rang; interrupted {
			break
		}
	}
	a := rt.alarm
	a.mu.Lock()
	a.caller = nil // keep no request's context alive between calls
	a.mu.Unlock()
}

// newRuntime creates a runtime, installs the host globals and hardens it.
func (e *Engine) newRuntime() (*runtime, error) {
	vm := goja.New()
	vm.SetMaxCallStackSize(e.opts.MaxCallStack)
	rt := &runtime{e: e, vm: vm, rang: make(chan bool, 1)}
	rt.exportFn = rt.exportProtected
	global := vm.GlobalObject()

	console := vm.NewObject()
	for _, m := range []struct {
		name  string
		level slog.Level
	}{
		{"log", slog.LevelInfo}, {"info", slog.LevelInfo}, {"warn", slog.LevelWarn},
		{"error", slog.LevelError}, {"debug", slog.LevelDebug},
	} {
		if err := rt.method(console, m.name, rt.consoleLog(m.level)); err != nil {
			return nil, err
		}
	}
	rt.session = rt.newSessionObject()

	constant := func(name string, v goja.Value) error {
		return global.DefineDataProperty(name, v, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
	}
	accessor := func(name string, get func(goja.FunctionCall) goja.Value) error {
		return global.DefineAccessorProperty(name, rt.fn("get "+name, get), nil, goja.FLAG_FALSE, goja.FLAG_TRUE)
	}
	errs := []error{
		constant("console", console),
		constant("verifyPasswordHash", rt.fn("verifyPasswordHash", rt.verifyPasswordHash)),
		constant("generatePasswordHash", rt.fn("generatePasswordHash", rt.generatePasswordHash)),
		constant("generateDigest", rt.fn("generateDigest", rt.generateDigest)),
		constant("require", rt.fn("require", rt.requireFrom("."))),
		accessor("Session", rt.getSession),
	}
	for i, g := range e.opts.Globals {
		errs = append(errs, accessor(g.Name(), rt.getGlobal(i, g)))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("engine: install globals: %w", err)
	}

	harden, err := rt.helper(hardenProgram)
	if err != nil {
		return nil, err
	}
	if _, err := harden(goja.Undefined(), vm.NewArray(rt.session)); err != nil {
		return nil, fmt.Errorf("engine: harden runtime: %w", err)
	}
	if rt.rethrow, err = rt.helper(rethrowProgram); err != nil {
		return nil, err
	}
	rt.protectFn, _ = goja.AssertFunction(vm.ToValue(func(goja.FunctionCall) goja.Value {
		rt.protected()
		return goja.Undefined()
	}))
	// The intrinsics are frozen now, so these references stay the originals.
	json := vm.Get("JSON").ToObject(vm)
	rt.parse, _ = goja.AssertFunction(json.Get("parse"))
	rt.stringify, _ = goja.AssertFunction(json.Get("stringify"))
	rt.toString, _ = goja.AssertFunction(vm.Get("String"))
	rt.errorCtor = map[string]*goja.Object{}
	for _, name := range []string{"Error", "TypeError", "RangeError", "ReferenceError"} {
		rt.errorCtor[name] = vm.Get(name).ToObject(vm)
	}
	return rt, nil
}

// helper runs a compiled helper program that evaluates to a function.
func (rt *runtime) helper(p *goja.Program) (goja.Callable, error) {
	v, err := rt.vm.RunProgram(p)
	if err != nil {
		return nil, fmt.Errorf("engine: helper: %w", err)
	}
	f, ok := goja.AssertFunction(v)
	if !ok {
		return nil, fmt.Errorf("engine: helper %v is not a function", v)
	}
	return f, nil
}

// fn makes a native function with a chosen name (goja would name it after
// the Go function, which scripts need not see). Once the call's deadline has
// passed, a host function does nothing and ends the call: goja may not have
// seen the interrupt yet (it is delivered by another goroutine), and the
// script may be acting on the wrong answer of a regular expression that
// regexp2 stopped (see exec).
func (rt *runtime) fn(name string, f func(goja.FunctionCall) goja.Value) *goja.Object {
	obj := rt.vm.ToValue(func(fc goja.FunctionCall) goja.Value {
		if c := rt.cur; c != nil && c.expired() {
			rt.vm.Interrupt(interruption{})
			return goja.Undefined()
		}
		return f(fc)
	}).(*goja.Object)
	_ = obj.DefineDataProperty("name", rt.vm.ToValue(name), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	return obj
}

// method defines a non-enumerable method on obj.
func (rt *runtime) method(obj *goja.Object, name string, f func(goja.FunctionCall) goja.Value) error {
	return obj.DefineDataProperty(name, rt.fn(name, f), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
}

// protect runs f as if called from JavaScript: an exception thrown by a
// getter, a toJSON or a Proxy trap that f touches comes back as an error
// instead of a panic, and so does an interrupt.
func (rt *runtime) protect(f func()) error {
	prev := rt.protected
	rt.protected = f
	defer func() { rt.protected = prev }()
	_, err := rt.protectFn(goja.Undefined())
	return err
}

// throw raises a JavaScript error of the given constructor ("TypeError"...)
// from a host binding. It does not return.
func (rt *runtime) throw(ctor, format string, args ...any) goja.Value {
	obj, err := rt.vm.New(rt.errorCtor[ctor], rt.vm.ToValue(fmt.Sprintf(format, args...)))
	if err != nil {
		panic(err)
	}
	panic(obj)
}

// fail ends the call with an internal error (not a script error: the script
// cannot catch it). The interrupt takes effect when the binding returns.
func (rt *runtime) fail(err error) goja.Value {
	if rt.cur.failure == nil {
		rt.cur.failure = err
	}
	rt.vm.Interrupt(interruption{})
	return goja.Undefined()
}

// rethrowErr re-raises, inside a host binding, an error returned by a
// nested call into JavaScript: a JavaScript exception keeps its stack, an
// interrupt or stack overflow stays uncatchable.
func rethrowErr(err error) {
	panic(err)
}

// getGlobal is the getter of an Options.Globals entry: the value is made on
// first use in a call, with the call's context.
func (rt *runtime) getGlobal(i int, g Global) func(goja.FunctionCall) goja.Value {
	return func(goja.FunctionCall) goja.Value {
		c := rt.cur
		if c == nil || c.loading {
			return rt.throw("ReferenceError", "%s is not available while modules load: use it inside a function", g.Name())
		}
		v, err := rt.globalValue(i, g)
		if err != nil {
			return rt.fail(err)
		}
		return v
	}
}

// caller returns the script file and line of the innermost script frame.
func (rt *runtime) caller() (string, int) {
	for _, f := range rt.vm.CaptureCallStack(16, nil) {
		if rt.cur != nil && rt.cur.scripts.program(f.SrcName()) != nil {
			p := f.Position()
			return f.SrcName(), p.Line
		}
	}
	return "", 0
}

// globalValue returns the value of Options.Globals entry i for the current call, made on
// first use.
func (rt *runtime) globalValue(i int, g Global) (goja.Value, error) {
	c := rt.cur
	if c.globals == nil {
		c.globals = make([]goja.Value, len(rt.e.opts.Globals))
	}
	if v := c.globals[i]; v != nil {
		return v, nil
	}
	var v goja.Value
	var err error
	if pg, ok := g.(PreparedGlobal); ok {
		if rt.prepared == nil {
			rt.prepared = make([]func(context.Context) (goja.Value, error), len(rt.e.opts.Globals))
		}
		if rt.prepared[i] == nil {
			rt.prepared[i], err = pg.Prepare(rt.vm)
		}
		if err == nil {
			v, err = rt.prepared[i](c.context())
		}
	} else {
		v, err = g.Value(c.context(), rt.vm)
	}
	if err != nil {
		return nil, fmt.Errorf("engine: global %s: %w", g.Name(), err)
	}
	if v == nil {
		v = goja.Undefined()
	}
	c.globals[i] = v
	return v, nil
}
