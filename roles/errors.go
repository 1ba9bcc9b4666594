package roles

import (
	"errors"
	"strconv"
	"strings"
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
	var b strings.Builder
	b.WriteString(e.File)
	b.WriteByte(':')
	b.WriteString(strconv.Itoa(e.Line))
	b.WriteByte(':')
	b.WriteString(strconv.Itoa(e.Column))
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Is reports whether target is ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// ErrorList is every problem found in one file, in the order they appear.
// Parse never returns an empty ErrorList.
type ErrorList []*Error

// Error joins the problems, one per line.
func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap returns the problems, for errors.Is and errors.As.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}
