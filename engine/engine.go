package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/dop251/goja"
)

// Defaults of Options.
const (
	DefaultTimeout      = 5 * time.Second
	DefaultMaxCallStack = 1000
)

// Options configure an Engine.
type Options struct {
	// Dir is the scripts folder. It may be absent (or empty): then there are
	// no scripts.
	Dir string
	// Timeout is the wall-clock limit of one call (DefaultTimeout when zero).
	// It also bounds each backtracking regular expression match (the longest
	// Timeout of the process's engines, plus a second: see boundRegexps).
	Timeout time.Duration
	// MaxCallStack limits the JavaScript call depth (DefaultMaxCallStack
	// when zero).
	MaxCallStack int
	// PoolSize is how many idle runtimes are kept for reuse (default:
	// MaxConcurrent, so that a steady load never builds one). More may run at
	// once; the extra ones are dropped.
	PoolSize int
	// MaxConcurrent bounds the calls running at once (default: four per CPU:
	// a few more than the cores, for calls waiting on the database). A runtime
	// costs about half a megabyte and a millisecond to build, and more calls
	// at once than the cores can run only make each slower, so callers beyond
	// the bound queue for a slot: a call waits at most Timeout (then
	// ErrTimeout) and no longer than its context.
	MaxConcurrent int
	// Logger receives console output (discarded when nil).
	Logger *slog.Logger
	// Globals are extra globals of the sandbox, such as the datastore's ds.
	Globals []Global
	// MaxHeap bounds, in bytes, the Go heap while scripts run: past it, calls that have
	// run for a while are stopped with ErrMemoryLimit (see memoryWatch). Zero means three
	// quarters of GOMEMLIMIT when it is set, else DefaultMaxHeap; negative turns the
	// bound off.
	MaxHeap int64
}

// Global adds a global to the sandbox (e.g. ds). Value is called at most once
// per call, on the call's goroutine, with the call's context, when a script
// first reads the global. It is not available to modules' top-level code at
// load time.
type Global interface {
	Name() string
	Value(ctx context.Context, vm *goja.Runtime) (goja.Value, error)
}

// PreparedGlobal is a Global that needs objects of its own in each runtime
// (prototypes, native functions) which are costly to build per call. Prepare
// is called once per runtime and script set, the first time a call reads the
// global; the function it returns makes the value of each call, as Value
// would, and is called at most once per call. Whatever Prepare makes is
// shared by the calls of that runtime: it must be frozen, or otherwise
// unchangeable by scripts, so that no call sees what another left.
type PreparedGlobal interface {
	Global
	Prepare(vm *goja.Runtime) (func(ctx context.Context) (goja.Value, error), error)
}

// Importer is a Global that turns some Go values of its own into script values when they
// are passed as an argument or as this: ds turns a *datastore.Entity into the script's
// entity object. Import is called on the call's goroutine with the value Value made for the
// call; ok false means v is not one of its values.
type Importer interface {
	Import(global goja.Value, v any) (out goja.Value, ok bool, err error)
}

// Scope is where in a module a function is exported: on module.exports itself, or on
// exports.entity (this is an entity) or exports.selection (this is an entity selection).
type Scope uint8

const (
	ModuleScope    Scope = iota // exports.fn
	EntityScope                 // exports.entity.fn
	SelectionScope              // exports.selection.fn
)

// exportsKey is the property of module.exports that holds the scope's functions.
func (s Scope) exportsKey() string {
	switch s {
	case EntityScope:
		return "entity"
	case SelectionScope:
		return "selection"
	}
	return ""
}

// FunctionInfo describes an exported function of a module.
type FunctionInfo struct {
	Name  string
	Scope Scope
	// OnHTTPGet is true when the script set exports.f.onHttpGet = true.
	OnHTTPGet bool
}

// Engine is the host of an app's scripts: a pool of sandboxed runtimes, the
// limits of a call (timeout, call slots, memory watch), and the loader of
// script sets. It holds no script set itself: Load returns one (*Scripts)
// and every call names the set it runs on, so that a caller can pin one set
// for a whole request and swap sets on reload as it sees fit. It is safe for
// concurrent use.
type Engine struct {
	opts  Options
	log   *slog.Logger
	idle  chan *runtime // the pool of idle runtimes
	slots chan struct{} // one per call running (MaxConcurrent)
	mem   *memoryWatch
}

// New makes the host. It loads no scripts: call Load for a set. It fails
// when an Options.Globals entry is not an identifier or is already defined.
//
// New also bounds the backtracking regular expressions of the process by
// Options.Timeout (see boundRegexps): make engines before running scripts.
func New(opts Options) (*Engine, error) {
	e, err := newEngine(opts)
	if err != nil {
		return nil, err
	}
	boundRegexps(e.opts.Timeout)
	return e, nil
}

var identifier = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)

// reservedNames are the sandbox's own globals and the CommonJS names.
var reservedNames = []string{
	"Session", "console", "verifyPasswordHash", "generatePasswordHash", "generateDigest",
	"require", "module", "exports", "__filename", "__dirname",
}

func newEngine(opts Options) (*Engine, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxCallStack <= 0 {
		opts.MaxCallStack = DefaultMaxCallStack
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = 4 * goruntime.GOMAXPROCS(0)
	}
	if opts.PoolSize <= 0 {
		opts.PoolSize = opts.MaxConcurrent
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	builtins := goja.New().GlobalObject()
	seen := map[string]bool{}
	for _, n := range reservedNames {
		seen[n] = true
	}
	for _, g := range opts.Globals {
		name := g.Name()
		switch {
		case !identifier.MatchString(name):
			return nil, fmt.Errorf("engine: global %q is not an identifier", name)
		case seen[name] || builtins.Get(name) != nil:
			return nil, fmt.Errorf("engine: global %q is already defined", name)
		}
		seen[name] = true
	}
	return &Engine{opts: opts, log: log, idle: make(chan *runtime, opts.PoolSize),
		slots: make(chan struct{}, opts.MaxConcurrent),
		mem:   newMemoryWatch(maxHeap(opts.MaxHeap), log)}, nil
}

// Authenticate runs scripts/onRESTAuthentication.js of sc, whose
// module.exports is function (user, password, isDigest, ip). Only a result of
// true accepts. Without that file it returns ErrNoFunction.
func (e *Engine) Authenticate(ctx context.Context, sc *Scripts, s Session, user, password string, isDigest bool, ip string) (bool, error) {
	if !sc.HasAuthentication() {
		return false, fmt.Errorf("%w: %s", ErrNoFunction, authFile)
	}
	out, err := e.run(ctx, s, sc, &task{what: "onRESTAuthentication", file: authFile,
		body: func(rt *runtime, module *goja.Object) (any, error) {
			vm := rt.vm
			res, err := rt.invoke(module, "", []goja.Value{vm.ToValue(user), vm.ToValue(password), vm.ToValue(isDigest), vm.ToValue(ip)})
			if err != nil {
				return nil, err
			}
			return isTrue(res), nil
		}})
	if err != nil {
		return false, err
	}
	return out.(bool), nil
}

// Call runs the exported function name of module in the script set sc, with
// args (JSON-decoded values). The result is JSON-compatible (map[string]any,
// []any, string, float64, bool, nil), except that a Go value wrapped for the
// script is returned unchanged. A module or function that sc does not export
// is ErrNoFunction.
func (e *Engine) Call(ctx context.Context, sc *Scripts, s Session, module, name string, args []any) (any, error) {
	return e.CallOn(ctx, sc, s, module, ModuleScope, name, nil, args)
}

// CallOn is Call for a function of any scope: with EntityScope or SelectionScope, this
// (a Go value an Importer global turns into the script's object, such as a
// *datastore.Entity) is the function's this.
func (e *Engine) CallOn(ctx context.Context, sc *Scripts, s Session, module string, scope Scope, name string, this any, args []any) (any, error) {
	m := sc.module(module)
	if m == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoFunction, module)
	}
	if _, ok := m.scope(scope)[name]; !ok {
		return nil, fmt.Errorf("%w: %s.%s", ErrNoFunction, module, name)
	}
	// A call is described by the task's fields, not a closure: a closure would cost every
	// call an allocation.
	return e.run(ctx, s, sc, &task{what: module, fn: name, file: m.file, scope: scope, this: this, args: args})
}

// call runs t's function: this and the arguments imported, the result exported.
func (rt *runtime) call(t *task, module *goja.Object) (any, error) {
	var thisVal goja.Value
	if t.scope != ModuleScope {
		v, err := rt.importValue(t.this, 0)
		if err != nil {
			return nil, err
		}
		thisVal = v
	}
	jsArgs := make([]goja.Value, len(t.args))
	for i, a := range t.args {
		v, err := rt.importValue(a, 0)
		if err != nil {
			return nil, err
		}
		jsArgs[i] = v
	}
	res, err := rt.invokeOn(module, t.scope, t.fn, thisVal, jsArgs)
	if err != nil {
		return nil, err
	}
	return rt.export(res, t.file)
}

// task is one unit of work on a runtime: load file's module, then body.
type task struct {
	what    string // for messages: "DataStore" (with fn: "DataStore.authentify")
	fn      string // the function called, when what is its module
	file    string
	loading bool
	// body is the work; nil for a call of fn (CallOn), described by scope, this and args.
	body  func(rt *runtime, module *goja.Object) (any, error)
	scope Scope
	this  any
	args  []any
}

// name is what t runs, for messages (built only when one is written).
func (t *task) name() string {
	if t.fn == "" {
		return t.what
	}
	return t.what + "." + t.fn
}

// run takes a runtime from the pool, runs t on it with the scripts of sc
// under the timeout, and returns the runtime when it is fit for reuse.
func (e *Engine) run(ctx context.Context, s Session, sc *Scripts, t *task) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("engine: %s: %w", t.name(), err)
	}
	if !t.loading { // loading runs one file at a time, from Load: it needs no slot
		if err := e.acquire(ctx, t); err != nil {
			return nil, err
		}
		defer func() { <-e.slots }()
	}
	rt, err := e.get()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	deadline := now.Add(e.opts.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if rt.set != sc {
		rt.useSet(sc)
	}
	c := &rt.state
	*c = call{deadline: deadline, parent: ctx, scripts: sc, session: s, loading: t.loading, file: t.file}
	rt.cur = c
	c.mem = e.mem.enter(rt)

	// The runtime is interrupted at the deadline by its own timer, reused from
	// call to call, which also looks at ctx every cancelPoll while the call runs
	// (a cancelled request).
	// ctx is looked at with Err, which costs nothing; asking for its Done channel would
	// make one for a request context that has none yet.
	rt.arm(now, deadline, ctx)
	reuse := false
	defer func() {
		rt.disarm()
		if c.cancel != nil {
			c.cancel()
		}
		e.mem.leave(rt) // nor may the memory watch's, once this returns
		rt.vm.ClearInterrupt()
		rt.cur = nil
		*c = call{}
		if !reuse || !e.put(rt) {
			rt.release()
		}
	}()

	out, err := rt.exec(t)
	// A runtime that was interrupted, overflowed its stack or saw a host
	// failure may be left in an odd state: drop it. A script's own
	// exception leaves it clean.
	if err == nil {
		reuse = rt.cur.failure == nil
		return out, nil
	}
	var ie *goja.InterruptedError
	var so *goja.StackOverflowError
	reuse = !errors.As(err, &ie) && !errors.As(err, &so) && !errors.Is(err, errDeadline) && rt.cur.failure == nil
	return out, rt.callError(err, t)
}

// acquire takes a call slot, waiting at most the call timeout and no longer than ctx.
func (e *Engine) acquire(ctx context.Context, t *task) error {
	select {
	case e.slots <- struct{}{}:
		return nil
	default:
	}
	timer := time.NewTimer(e.opts.Timeout)
	defer timer.Stop()
	select {
	case e.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("engine: %s: %w", t.name(), ctx.Err())
	case <-timer.C:
		return fmt.Errorf("engine: %s: %w (all %d script slots busy)", t.name(), ErrTimeout, cap(e.slots))
	}
}

// errDeadline ends a call that came back after its deadline without being
// interrupted: callError reports it as the interrupt it would have been.
var errDeadline = errors.New("engine: call ended after its deadline")

// exec loads the task's module and runs its body, then writes back the
// session storage.
//
// Once the call's deadline has passed, what the script returned or threw is
// not used and the storage is not written: a built-in that goja does not
// interrupt may have been cut short by its own bound and given the script a
// wrong answer (a regular expression stopped by regexp2's MatchTimeout reads
// as "no match"), and the script may have run on with it for the few
// instructions before the interrupt landed.
func (rt *runtime) exec(t *task) (any, error) {
	module, err := rt.module(t.file)
	var out any
	switch {
	case err != nil:
	case t.body != nil:
		out, err = t.body(rt, module)
	default:
		out, err = rt.call(t, module)
	}
	if rt.cur.expired() && rt.cur.failure == nil {
		var ie *goja.InterruptedError
		if !errors.As(err, &ie) {
			err = errDeadline
		}
		return nil, err
	}
	if err != nil {
		var ex *goja.Exception
		var se *ScriptError
		if !errors.As(err, &ex) && !errors.As(err, &se) {
			return nil, err // interrupted or failed: nothing more runs
		}
	}
	if ferr := rt.flushStorage(t.file); ferr != nil && err == nil {
		return nil, ferr
	}
	return out, err
}

// invoke calls the exported function name of module (module.exports itself
// when name is ""), with exports as this, and settles a returned promise.
func (rt *runtime) invoke(module *goja.Object, name string, args []goja.Value) (goja.Value, error) {
	key := exportKey{module, name}
	ex, known := rt.exported[key]
	if !known {
		var fnVal goja.Value
		err := rt.protect(func() {
			ex.this = module.Get("exports")
			fnVal = ex.this
			if name != "" {
				fnVal = ex.this.ToObject(rt.vm).Get(name)
			}
		})
		if err != nil {
			return nil, err
		}
		var ok bool
		if ex.fn, ok = goja.AssertFunction(fnVal); !ok {
			return nil, fmt.Errorf("%w: %s is not a function when the module runs", ErrNoFunction, name)
		}
		if rt.shared[rt.cur.file] == module {
			if rt.exported == nil {
				rt.exported = map[exportKey]export{}
			}
			rt.exported[key] = ex // frozen: the lookup gives the same function every time
		}
	}
	res, err := ex.fn(ex.this, args...)
	if err != nil {
		return nil, err
	}
	return rt.settle(res)
}

// invokeOn is invoke for a function of scope: exports.entity.name or exports.selection.name
// is called with thisArg as its this (ModuleScope is invoke).
func (rt *runtime) invokeOn(module *goja.Object, scope Scope, name string, thisArg goja.Value, args []goja.Value) (goja.Value, error) {
	if scope == ModuleScope {
		return rt.invoke(module, name, args)
	}
	var this, fnVal goja.Value
	err := rt.protect(func() {
		this = module.Get("exports")
		fnVal = this.ToObject(rt.vm).Get(scope.exportsKey())
		if fnVal == nil || goja.IsUndefined(fnVal) || goja.IsNull(fnVal) {
			return
		}
		this = thisArg
		if name != "" {
			fnVal = fnVal.ToObject(rt.vm).Get(name)
		}
	})
	if err != nil {
		return nil, err
	}
	fn, ok := goja.AssertFunction(fnVal)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not a function when the module runs", ErrNoFunction, name)
	}
	res, err := fn(this, args...)
	if err != nil {
		return nil, err
	}
	return rt.settle(res)
}

// settle returns the outcome of a promise result. Pending jobs have run when
// the call returned, and nothing else (no timers, no I/O) can settle it later.
func (rt *runtime) settle(v goja.Value) (goja.Value, error) {
	obj, ok := v.(*goja.Object)
	if !ok || obj.ExportType() != typePromise {
		return v, nil
	}
	p := obj.Export().(*goja.Promise)
	switch p.State() {
	case goja.PromiseStateFulfilled:
		return p.Result(), nil
	case goja.PromiseStateRejected:
		_, err := rt.rethrow(goja.Undefined(), p.Result())
		return nil, err
	default:
		return nil, &ScriptError{File: rt.cur.file, Message: "the function returned a promise that never settled (there are no timers or I/O to wait for)"}
	}
}

// callError maps what a call ended with to the engine's errors.
func (rt *runtime) callError(err error, t *task) error {
	c := rt.cur
	var ie *goja.InterruptedError
	var so *goja.StackOverflowError
	var ex *goja.Exception
	switch {
	case c.failure != nil:
		return c.failure
	case errors.As(err, &ie) && c.mem.stopped.Load():
		return fmt.Errorf("%w: %s", ErrMemoryLimit, t.name())
	case errors.As(err, &ie) || errors.Is(err, errDeadline):
		if perr := c.parent.Err(); perr != nil {
			return fmt.Errorf("engine: %s: %w", t.name(), perr)
		}
		loc := &ScriptError{}
		if ie != nil {
			rt.locate(loc, ie.Stack())
		}
		if loc.File != "" {
			return fmt.Errorf("%w: %s (at %s:%d)", ErrTimeout, t.name(), loc.File, loc.Line)
		}
		return fmt.Errorf("%w: %s", ErrTimeout, t.name())
	case errors.As(err, &so):
		se := &ScriptError{File: t.file, Message: ErrStackOverflow.Error(), err: ErrStackOverflow}
		rt.locate(se, so.Stack())
		return se
	case errors.As(err, &ex):
		return rt.scriptError(ex, t.file)
	}
	return err
}

// scriptError describes a thrown value.
func (rt *runtime) scriptError(ex *goja.Exception, file string) *ScriptError {
	se := &ScriptError{File: file}
	rt.locate(se, ex.Stack())
	val := ex.Value()
	_ = rt.protect(func() {
		if obj, ok := val.(*goja.Object); ok {
			se.Expose = isTrue(obj.Get("expose"))
			if m := obj.Get("message"); !absent(m) {
				se.Message = m.String()
				return
			}
		}
		se.Message = rt.logText(val)
	})
	if se.Message == "" {
		se.Message = "exception without a message"
	}
	return se
}

// locate sets File, Line, Column and Stack from the innermost script frame
// of a JavaScript stack.
func (rt *runtime) locate(se *ScriptError, frames []goja.StackFrame) {
	var stack []string
	found := false
	for i := range frames {
		f := &frames[i]
		name := f.SrcName()
		if rt.cur.scripts.program(name) == nil {
			continue // native code or the engine's own helpers
		}
		p := f.Position()
		col := p.Column
		if p.Line == 1 && col > len(wrapPrefix) {
			col -= len(wrapPrefix)
		}
		if !found {
			se.File, se.Line, se.Column = name, p.Line, col
			found = true
		}
		if len(stack) < 32 {
			stack = append(stack, fmt.Sprintf("at %s (%s:%d:%d)", f.FuncName(), name, p.Line, col))
		}
	}
	se.Stack = strings.Join(stack, "\n")
}

// get takes an idle runtime or makes one.
func (e *Engine) get() (*runtime, error) {
	select {
	case rt := <-e.idle:
		return rt, nil
	default:
		return e.newRuntime()
	}
}

// put returns a runtime to the pool, or reports false when the pool is full.
func (e *Engine) put(rt *runtime) bool {
	select {
	case e.idle <- rt:
		return true
	default:
		return false
	}
}
