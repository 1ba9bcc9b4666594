package roles

import (
	"errors"

	"gatehouse/internal/jsonpos"
)

// ErrInvalid is matched by every validation error: errors.Is(err, ErrInvalid)
// tells a broken roles.json apart from a file that could not be read.
var ErrInvalid = errors.New("roles: invalid roles.json")

// Error is one problem found in a roles.json file.
type Error struct {
	File    string // file name as given to Parse ("roles.json") or Load (the path)
	Line    int    // 1-based line of the offending text
	Column  int    // 1-based column, in characters
	Path    string // JSON path of the offending value, e.g. $.permissions.allowed[2].read[0]; "" for syntax errors
	Message string
}

// Error formats the problem as "file:line:col: path: message".
func (e *Error) Error() string {
	return jsonpos.Describe(e.File, e.Line, e.Column, e.Path, e.Message)
}

// Is reports whether target is ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// ErrorList is every problem found in one file, in the order they appear.
// Parse never returns an empty ErrorList.
type ErrorList []*Error

// Error joins the problems, one per line.
func (l ErrorList) Error() string { return jsonpos.JoinErrors(l) }

// Unwrap returns the problems, for errors.Is and errors.As.
func (l ErrorList) Unwrap() []error { return jsonpos.UnwrapErrors(l) }
