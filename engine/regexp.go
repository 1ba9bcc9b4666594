package engine

import (
	"sync"
	"time"

	"github.com/dlclark/regexp2/v2"
)

// goja runs a regular expression on Go's regexp package (linear time) when it
// can, and on github.com/dlclark/regexp2 (backtracking) when the pattern needs
// it (backreferences, lookaround) or the search starts past index 0 (the
// lastIndex of a global or sticky expression). goja checks its interrupt between
// instructions only, so a backtracking match that takes hours is not stopped
// by the call's deadline, and goja offers no hook to pass one in.
//
// regexp2 can stop a match itself: each *regexp2.Regexp has a MatchTimeout,
// set from regexp2.DefaultMatchTimeout when it is compiled (goja compiles
// literals when a script set is loaded, new RegExp(...) when a call runs it).
// goja drops the timeout error and answers "no match", so the bound must
// never fire while a call may still go on with that wrong answer: it is the
// longest Options.Timeout of the engines of the process, plus regexpSlack. A
// match starts after its call did, so by the time it is stopped the call's
// deadline has passed, the runtime is interrupted and the call ends with
// ErrTimeout; exec also refuses whatever a call returns once its deadline has
// passed, and host functions do nothing then (see runtime.fn).
//
// The per-step check is an atomic load of regexp2's coarse clock; expressions
// that goja runs on Go's regexp package are not affected at all.
var regexpBound struct {
	sync.Mutex
	d time.Duration // the longest engine timeout so far, 0 before the first
}

// regexpSlack covers regexp2's clock: a goroutine updates it every 100 ms, and
// on a busy machine it runs late, so a match can be stopped a little before
// MatchTimeout has passed in real time. The slack keeps such an early stop
// after the call's own deadline.
const regexpSlack = time.Second

// boundRegexps makes every regular expression compiled from now on stop a
// match after about d + regexpSlack. It only ever raises the bound. It writes
// a variable of regexp2 that goja reads, unsynchronised, when it compiles an
// expression: so it is called from New, and writes only when d is longer than
// every earlier engine's timeout (a server makes its engine before it runs
// any script).
func boundRegexps(d time.Duration) {
	regexpBound.Lock()
	defer regexpBound.Unlock()
	if d > regexpBound.d {
		regexpBound.d = d
		regexp2.DefaultMatchTimeout = d + regexpSlack
	}
}

// regexpTimeout returns the MatchTimeout of expressions compiled now, 0
// before the first engine (for tests).
func regexpTimeout() time.Duration {
	regexpBound.Lock()
	defer regexpBound.Unlock()
	if regexpBound.d == 0 {
		return 0
	}
	return regexpBound.d + regexpSlack
}
