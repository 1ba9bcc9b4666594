package engine

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dlclark/regexp2/v2"
	"github.com/dop251/goja"
)

// Patterns that goja runs on regexp2 (backtracking), against an input on which
// they backtrack for longer than any test lasts. Patterns that Go's regexp
// package can run (such as /^(a+)+$/ from index 0) run in linear time and need
// no bound.
const catastrophicScripts = `
const input = 'a'.repeat(40) + 'b';
const backref = /^(a+)+\1$/;   // a backreference: regexp2 only
const lookahead = /^(?=(a+)+$)/; // a lookahead: regexp2 only
exports.test = function () { return backref.test(input); };
exports.exec = function () { return backref.exec(input); };
exports.match = function () { return input.match(lookahead); };
exports.matchAll = function () { return [...input.matchAll(/(a+)+\1$/g)].length; };
exports.replace = function () { return input.replace(backref, 'x'); };
exports.replaceAll = function () { return input.replaceAll(/(a+)+\1$/g, 'x'); };
exports.split = function () { return input.split(lookahead); };
exports.search = function () { return input.search(backref); };
exports.constructed = function () { return new RegExp('^(a+)+\\1$').test(input); };
exports.sticky = function () {
	// A pattern Go's regexp could run, but the search starts past index 0:
	// goja runs it on regexp2.
	const re = /(a+)+$/y;
	re.lastIndex = 1;
	return re.test(input);
};
exports.caught = function () {
	// The interrupt is not an exception: catch blocks do not see it, and the
	// loop does not go on with a wrong "no match".
	let n = 0;
	for (;;) { try { if (!backref.test(input)) n++; } catch (e) { n += 100; } }
};
exports.ordinary = function () {
	const s = 'bob@example.com, ann@example.org';
	return [
		/(\w+)@(?=example\.com)/.exec(s)[1],
		s.replace(/(\w+)@(?!example\.com)/g, '<$1>@'),
		s.split(/,\s*(?=a)/),
		s.search(/(?<=, )ann/),
		[...s.matchAll(/(\w)\1*@/g)].map(m => m[1]),
		/^(a+)+$/.test('a'.repeat(40) + 'b'),
	];
};
`

// TestRegexpTimeout: a backtracking regular expression is stopped with its
// call, whatever the method that runs it; the call answers ErrTimeout, and the
// engine goes on serving.
func TestRegexpTimeout(t *testing.T) {
	// As in a server, whose one engine sets the bound: earlier tests made
	// engines with longer timeouts.
	freshRegexpBound(t)
	names := []string{"test", "exec", "match", "matchAll", "replace", "replaceAll", "split", "search", "constructed", "sticky", "caught"}
	e, sc := newTestEngine(t, map[string]string{"DataStore.js": catastrophicScripts}, func(o *Options) {
		o.Timeout = 300 * time.Millisecond
		o.MaxConcurrent = len(names) // every call at once; a slot kept by a stopped call would show below
	})
	if got, want := regexpTimeout(), 300*time.Millisecond+regexpSlack; got != want {
		t.Fatalf("regexp2 match timeout = %v, want %v", got, want)
	}
	// A stopped match ends at most the bound after the call's deadline: allow
	// that, generously.
	limit := regexpTimeout() + 10*time.Second

	type result struct {
		name string
		out  any
		err  error
	}
	results := make(chan result, len(names))
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Go(func() {
			out, err := e.Call(context.Background(), sc, newFakeSession(), "DataStore", name, nil)
			results <- result{name, out, err}
		})
	}
	deadline := time.After(limit)
	for range names {
		select {
		case r := <-results:
			if !errors.Is(r.err, ErrTimeout) {
				t.Errorf("%s: got %v, %v; want ErrTimeout", r.name, r.out, r.err)
			}
		case <-deadline:
			t.Fatalf("a backtracking regular expression ran for more than %v", limit)
		}
	}
	wg.Wait()

	want := []any{"bob", "bob@example.com, <ann>@example.org", []any{"bob@example.com", "ann@example.org"},
		float64(17), []any{"b", "n"}, false}
	for range names { // every slot is free again
		if got := mustCall(t, e, sc, nil, "ordinary"); !reflect.DeepEqual(got, want) {
			t.Fatalf("ordinary regular expressions: got %v, want %v", got, want)
		}
	}
}

// TestRegexpBoundOnlyRises: with several engines in a process, the longest
// timeout counts: a regular expression of any of them is never stopped
// before its call's deadline.
func TestRegexpBoundOnlyRises(t *testing.T) {
	freshRegexpBound(t)
	for _, tt := range []struct{ timeout, want time.Duration }{
		{2 * time.Second, 2 * time.Second},
		{time.Second, 2 * time.Second},
		{3 * time.Second, 3 * time.Second},
	} {
		if _, err := New(Options{Timeout: tt.timeout}); err != nil {
			t.Fatal(err)
		}
		if got, want := regexpTimeout(), tt.want+regexpSlack; got != want {
			t.Errorf("after New with timeout %v: bound %v, want %v", tt.timeout, got, want)
		}
		if got, want := regexp2.DefaultMatchTimeout, tt.want+regexpSlack; got != want {
			t.Errorf("after New with timeout %v: regexp2.DefaultMatchTimeout %v, want %v", tt.timeout, got, want)
		}
	}
}

// freshRegexpBound forgets the bound that earlier tests' engines set, until
// the test ends. Tests of this package do not run in parallel, so nothing
// compiles a regular expression meanwhile.
func freshRegexpBound(t *testing.T) {
	regexpBound.Lock()
	saved, savedDefault := regexpBound.d, regexp2.DefaultMatchTimeout
	regexpBound.d = 0
	regexpBound.Unlock()
	t.Cleanup(func() {
		regexpBound.Lock()
		defer regexpBound.Unlock()
		if saved > regexpBound.d {
			regexpBound.d, regexp2.DefaultMatchTimeout = saved, savedDefault
		}
	})
}

// TestNothingRunsPastTheDeadline: once the deadline has passed, a call that
// goja has not interrupted yet (its interrupt comes from another goroutine,
// and a regular expression stopped by regexp2 answers "no match" without an
// error) neither acts on the session nor returns a result.
func TestNothingRunsPastTheDeadline(t *testing.T) {
	e, sc := newTestEngine(t, map[string]string{"DataStore.js": `
		exports.late = function () {
			Session.storage.late = true;
			wait; // returns once the deadline has passed
			Session.setPrivileges('admin');
			return 'done';
		};
		exports.lateReturn = function () { wait; return 'done'; };
		exports.lateThrow = function () { wait; throw new Error('wrong answer'); };
	`}, func(o *Options) { o.Timeout = 300 * time.Millisecond; o.Globals = []Global{untilDeadline{}} })
	for _, name := range []string{"late", "lateReturn", "lateThrow"} {
		s := newFakeSession()
		out, err := e.Call(context.Background(), sc, s, "DataStore", name, nil)
		if !errors.Is(err, ErrTimeout) {
			t.Errorf("%s: got %v, %v; want ErrTimeout", name, out, err)
		}
		if len(s.grants) != 0 || len(s.stored) != 0 {
			t.Errorf("%s: the session was changed after the deadline: grants %v, storage %q", name, s.grants, s.stored)
		}
	}
}

// untilDeadline is a global whose value comes once the call's context is done.
type untilDeadline struct{}

func (untilDeadline) Name() string { return "wait" }
func (untilDeadline) Value(ctx context.Context, vm *goja.Runtime) (goja.Value, error) {
	<-ctx.Done()
	return goja.Undefined(), nil
}

// BenchmarkCallRegexp: regular expressions that goja runs on regexp2, which
// checks its match timeout at each step.
func BenchmarkCallRegexp(b *testing.B) {
	e, sc := newTestEngine(b, map[string]string{"DataStore.js": `
		const re = /^([\w.+-]+)@(?=[\w-]+\.)([\w.-]+)$/;
		exports.check = function (list) {
			let n = 0;
			for (const s of list) { if (re.test(s)) n++; n += s.replace(/(\w)\1/g, '$1').length; }
			return n;
		};
	`})
	list := []any{"bob@example.com", "not an address", strings.Repeat("a", 64) + "@example.org", "x.y+z@sub.example.net"}
	args := []any{list}
	ctx := context.Background()
	for b.Loop() {
		if _, err := e.Call(ctx, sc, nil, "DataStore", "check", args); err != nil {
			b.Fatal(err)
		}
	}
}
