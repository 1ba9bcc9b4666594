package jsonpos

import (
	"strconv"
	"strings"
)

// Describe formats a problem found in a JSON file the way every gatehouse file error
// reads: "file:line:col: path: message". The position is left out when line is 0, the
// path when it is "".
func Describe(file string, line, col int, path, message string) string {
	var b strings.Builder
	b.WriteString(file)
	if line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(line))
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(col))
	}
	b.WriteString(": ")
	if path != "" {
		b.WriteString(path)
		b.WriteString(": ")
	}
	b.WriteString(message)
	return b.String()
}

// JoinErrors is the text of a list of problems: one per line.
func JoinErrors[E error](es []E) string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// UnwrapErrors returns a list of problems as []error, for a list type's Unwrap (so that
// errors.Is and errors.As find each one).
func UnwrapErrors[E error](es []E) []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}
