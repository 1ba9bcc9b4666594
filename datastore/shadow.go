package datastore

import "strings"

// Shadow columns. Case-insensitive comparison and keyword search follow Go's Unicode tables
// (fold and words in values.go), which no database has as such. Rather than teach each backend
// (SQLite could call Go, PostgreSQL cannot), gatehouse stores, beside every string-valued
// column X, two columns it computes itself on every write:
//
//	__fold_X   foldText(X): compared, sorted and indexed instead of X
//	__words_X  " w1 w2 … " (the folded words of X): '%' is a LIKE on it
//
// Both are compared byte-wise (SQLite's BINARY, PostgreSQL's COLLATE "C"), so equality,
// ranges, prefixes and ordering give the same answers on both backends, and the literal side
// is folded by the same Go function. Only gatehouse keeps them current: write through
// gatehouse, not through another SQL client.

const (
	foldPrefix  = "__fold_"
	wordsPrefix = "__words_"
)

// hasShadow reports whether a's column has shadow columns: every string-valued column
// (string attributes, string keys, and foreign keys to them).
func (a *Attribute) hasShadow() bool { return a.hasColumn() && a.valueType() == TypeString }

func foldColumn(a *Attribute) string  { return shortName(foldPrefix + a.Name) }
func wordsColumn(a *Attribute) string { return shortName(wordsPrefix + a.Name) }

// shadowValues returns the values of a's shadow columns for the stored value enc.
func shadowValues(enc any) (folded, ws any) {
	s, ok := enc.(string)
	if !ok {
		return nil, nil
	}
	return foldText(s), wordsText(s)
}

// foldText is fold(s) made storable as PostgreSQL text, which cannot hold NUL: NUL becomes
// "\x01\x01" and U+0001 "\x01\x02". The code is prefix-free and keeps byte order, so
// equality, ranges, prefixes and order on the result are those on fold(s). Query operands go
// through it too.
func foldText(s string) string {
	s = fold(s)
	if strings.IndexByte(s, 0) < 0 && strings.IndexByte(s, 1) < 0 {
		return s
	}
	return nulEscaper.Replace(s)
}

var nulEscaper = strings.NewReplacer("\x00", "\x01\x01", "\x01", "\x01\x02")

// wordsText is the content of a words column: the folded words between single spaces, with a
// space at each end, so that "% 'a b'" is LIKE '% a b %'.
func wordsText(s string) string {
	return " " + strings.Join(words(s), " ") + " "
}
