// Package errkind classifies errors where they arise, so that the one place that answers
// clients (the REST error funnel) can map a kind to a status without knowing which package,
// backend or library produced the error. It is the upspin idea, kept light: a kind, and
// nothing else.
//
// A leaf package marks its errors with Wrap (or by giving its error types a Kind method);
// a consumer asks Of(err). Kinds never carry protocol codes: HTTP statuses and 4D error
// codes belong to the REST layer.
package errkind

import "errors"

// Kind says what went wrong, in terms a caller can act on.
type Kind uint8

const (
	// Other is an unclassified failure: a bug or an internal fault (the default).
	Other Kind = iota
	// NotFound: the thing asked for does not exist (or no longer exists).
	NotFound
	// Invalid: the request is malformed (bad syntax, wrong type, unknown name).
	Invalid
	// Permission: the caller may not do this.
	Permission
	// Conflict: the state changed under the caller (a stale stamp, a duplicate key).
	Conflict
	// Exhausted: a bounded resource is used up (licences, attempts).
	Exhausted
	// Unavailable: a dependency is busy or unreachable for now; trying again may work.
	Unavailable
	// Timeout: the work ran past its time limit and was stopped.
	Timeout
)

var names = [...]string{"other", "not found", "invalid", "permission", "conflict", "exhausted", "unavailable", "timeout"}

func (k Kind) String() string {
	if int(k) < len(names) {
		return names[k]
	}
	return "unknown"
}

// Error is an error with a kind. The wrapped error keeps every detail (it is logged); the
// kind is what callers branch on.
type Error struct {
	Kind Kind
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the classified error.
func (e *Error) Unwrap() error { return e.Err }

// Wrap classifies err as k. Wrap of nil is nil.
func Wrap(k Kind, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: k, Err: err}
}

// New returns a new error of kind k with text msg.
func New(k Kind, msg string) error { return &Error{Kind: k, Err: errors.New(msg)} }

// kinded is implemented by error types that know their own kind.
type kinded interface{ ErrorKind() Kind }

// Of returns the kind of the outermost classified error in err's chain, Other when none is.
func Of(err error) Kind {
	for err != nil {
		switch e := err.(type) {
		case *Error:
			return e.Kind
		case kinded:
			return e.ErrorKind()
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				if k := Of(inner); k != Other {
					return k
				}
			}
			return Other
		default:
			return Other
		}
	}
	return Other
}

// Is reports whether err is of kind k.
func Is(err error, k Kind) bool { return Of(err) == k }
