package jsonpos

import (
	"bytes"
	"sort"
	"unicode/utf8"
)

// LineCol converts a byte offset in data to a 1-based line and a 1-based
// column counted in characters (an invalid UTF-8 byte counts as one), as
// editors show them. A byte order mark at the start of data is not counted,
// since editors do not show it. off is clamped to [0, len(data)].
//
// LineCol scans data on each call; Lines is faster for many offsets into one
// document.
func LineCol(data []byte, off int) (line, col int) {
	off = min(max(off, 0), len(data))
	line = 1 + bytes.Count(data[:off], []byte{'\n'})
	return line, column(data, bytes.LastIndexByte(data[:off], '\n')+1, off)
}

// column is the 1-based character column of off in the line starting at start.
func column(data []byte, start, off int) int {
	if start == 0 && bytes.HasPrefix(data, []byte(BOM)) {
		start = min(len(BOM), off)
	}
	return utf8.RuneCount(data[start:off]) + 1
}

// Lines converts byte offsets of one document to lines and columns, as
// LineCol does, with an index of line starts built on first use. A Lines is
// not safe for concurrent use.
type Lines struct {
	data   []byte
	starts []int // byte offsets of line starts; nil until first use
}

// NewLines returns a Lines for data. It does not scan data until asked for
// a position, so it costs nothing for a document without errors.
func NewLines(data []byte) *Lines { return &Lines{data: data} }

// LineCol returns the line and column of off; see the function LineCol.
func (l *Lines) LineCol(off int) (line, col int) {
	if l.starts == nil {
		l.starts = []int{0}
		for i, c := range l.data {
			if c == '\n' {
				l.starts = append(l.starts, i+1)
			}
		}
	}
	off = min(max(off, 0), len(l.data))
	line = sort.Search(len(l.starts), func(i int) bool { return l.starts[i] > off })
	return line, column(l.data, l.starts[line-1], off)
}
