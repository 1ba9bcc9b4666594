package engine

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrNoFunction is returned when a module or an exported function does
	// not exist in the active script set.
	ErrNoFunction = errors.New("engine: no such function")
	// ErrTimeout is returned when a call exceeded Options.Timeout and was
	// interrupted.
	ErrTimeout = errors.New("engine: script timed out")
	// ErrStackOverflow is wrapped by the *ScriptError of a call that exceeded
	// Options.MaxCallStack.
	ErrStackOverflow = errors.New("maximum call stack size exceeded")
	// ErrNotSerialisable is wrapped by the *ScriptError of a call whose result
	// is not JSON (NaN, Infinity, a function, a symbol, a cycle...).
	ErrNotSerialisable = errors.New("result is not JSON-serialisable")
)

// ScriptError is a problem in a script: a syntax error found at load, a value
// thrown by a call, a stack overflow, or a result that is not JSON.
type ScriptError struct {
	// File is relative to the scripts folder, with slashes ("lib/users.js").
	File string
	// Line and Column locate the problem, from 1; 0 when unknown.
	Line, Column int
	// Message is the error's message, meant for the log. It reaches an HTTP
	// client only when Expose is true.
	Message string
	// Expose is true when the script threw an Error whose expose property
	// is true: the script author wants Message shown to the client.
	Expose bool
	// Stack is the JavaScript call stack at the throw, one frame a line.
	Stack string

	err error // the sentinel this error is an instance of, if any
}

// Error returns "file:line:column: message" (the parts that are known).
func (e *ScriptError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
			if e.Column > 0 {
				fmt.Fprintf(&b, ":%d", e.Column)
			}
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Unwrap returns ErrStackOverflow or ErrNotSerialisable for those failures,
// else nil.
func (e *ScriptError) Unwrap() error { return e.err }

// ErrorList holds every problem found while loading a script set.
type ErrorList []*ScriptError

// Error returns one problem a line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, for errors.As and errors.Is.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// err returns l as an error, or nil when it is empty.
func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}
