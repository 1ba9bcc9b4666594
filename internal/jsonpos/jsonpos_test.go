package jsonpos

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParseRecordsPositions(t *testing.T) {
	src := "{\n  \"name\": \"caf\\u00e9\",\n  \"n\": -1.5e3,\n  \"list\": [true, null, {}],\n  \"é\": false\n}"
	v, err := Parse([]byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	// Each value and key is found by the text that starts at its offset.
	at := func(off int, prefix string) {
		t.Helper()
		if !strings.HasPrefix(src[off:], prefix) {
			t.Errorf("text at offset %d = %.12q, want it to start with %q", off, src[off:], prefix)
		}
	}
	if v.Kind != Object || v.Off != 0 || len(v.Fields) != 4 {
		t.Fatalf("root = %v at %d with %d fields, want object at 0 with 4", v.Kind, v.Off, len(v.Fields))
	}
	wantKeys := []string{"name", "n", "list", "é"}
	for i, f := range v.Fields {
		if f.Key != wantKeys[i] {
			t.Errorf("key %d = %q, want %q", i, f.Key, wantKeys[i])
		}
		at(f.KeyOff, `"`+wantKeys[i]+`"`)
	}

	name := v.Fields[0].Val
	if name.Kind != String || name.Str != "café" {
		t.Errorf("name = %v %q, want string %q", name.Kind, name.Str, "café")
	}
	at(name.Off, `"caf\u00e9"`)

	n := v.Fields[1].Val
	if n.Kind != Number || n.Num != "-1.5e3" {
		t.Errorf("n = %v %q, want number -1.5e3", n.Kind, n.Num)
	}
	if f, err := n.Num.Float64(); err != nil || f != -1500 {
		t.Errorf("n.Num.Float64() = %v, %v; want -1500", f, err)
	}
	at(n.Off, "-1.5e3")

	list := v.Fields[2].Val
	if list.Kind != Array || len(list.Elems) != 3 {
		t.Fatalf("list = %v with %d elements, want array of 3", list.Kind, len(list.Elems))
	}
	at(list.Off, "[true")
	wantElems := []struct {
		kind Kind
		text string
	}{{Bool, "true"}, {Null, "null"}, {Object, "{}"}}
	for i, e := range list.Elems {
		if e.Kind != wantElems[i].kind {
			t.Errorf("list[%d] kind = %v, want %v", i, e.Kind, wantElems[i].kind)
		}
		at(e.Off, wantElems[i].text)
	}
	if !list.Elems[0].Bool {
		t.Error("list[0].Bool = false, want true")
	}

	last := v.Fields[3].Val
	if last.Kind != Bool || last.Bool {
		t.Errorf("é = %v %v, want boolean false", last.Kind, last.Bool)
	}
	if line, col := LineCol([]byte(src), last.Off); line != 5 || col != 8 {
		t.Errorf("LineCol(é's value) = %d:%d, want 5:8", line, col)
	}
}

func TestParseKeepsDuplicateKeysInOrder(t *testing.T) {
	src := `{"a": 1, "b": 2, "a": 3}`
	v, err := Parse([]byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	var got []string
	for _, f := range v.Fields {
		got = append(got, f.Key+"="+string(f.Val.Num)+"@"+strconv.Itoa(f.KeyOff))
	}
	want := []string{"a=1@1", "b=2@9", "a=3@17"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fields = %q, want %q", got, want)
	}
}

func TestFirstDuplicate(t *testing.T) {
	tests := []struct {
		name, src string
		wantKey   string // "" when there is no duplicate
		wantOff   int
	}{
		{"None", `{"a": {"a": 1}, "b": [{"a": 1}, {"a": 2}]}`, "", 0},
		{"Scalar", `1`, "", 0},
		{"TopLevel", `{"a": 1, "a": 2}`, "a", 9},
		{"InArray", `[1, {"x": 1, "y": 2, "x": 3}]`, "x", 21},
		// The nested duplicate comes first in the text, so it is the one found.
		{"NestedBeforeLater", `{"a": {"k": 1, "k": 2}, "a": 3}`, "k", 15},
		{"LaterBeforeNested", `{"a": 1, "a": {"k": 1, "k": 2}}`, "a", 9},
		{"SecondOfThree", `{"a": 1, "a": 2, "a": 3}`, "a", 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Parse([]byte(tt.src))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got := FirstDuplicate(v)
			switch {
			case tt.wantKey == "" && got != nil:
				t.Errorf("FirstDuplicate = %q at %d, want nil", got.Key, got.KeyOff)
			case tt.wantKey != "" && got == nil:
				t.Errorf("FirstDuplicate = nil, want %q at %d", tt.wantKey, tt.wantOff)
			case tt.wantKey != "" && (got.Key != tt.wantKey || got.KeyOff != tt.wantOff):
				t.Errorf("FirstDuplicate = %q at %d, want %q at %d", got.Key, got.KeyOff, tt.wantKey, tt.wantOff)
			}
		})
	}
}

func TestHas(t *testing.T) {
	v, err := Parse([]byte(`{"a": null, "b": {"c": 1}}`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	tests := []struct {
		v    *Value
		key  string
		want bool
	}{
		{v, "a", true},
		{v, "b", true},
		{v, "c", false},
		{v.Fields[0].Val, "a", false},
	}
	for _, tt := range tests {
		if got := tt.v.Has(tt.key); got != tt.want {
			t.Errorf("%v.Has(%q) = %v, want %v", tt.v.Kind, tt.key, got, tt.want)
		}
	}
}

func TestParseSyntaxErrors(t *testing.T) {
	tests := []struct {
		name, src string
		wantOff   int
		wantMsg   string
	}{
		{"Empty", ``, 0, "unexpected end of input looking for a value"},
		{"OnlySpace", " \n ", 3, "unexpected end of input looking for a value"},
		{"OnlyBOM", BOM, 3, "unexpected end of input looking for a value"},
		{"UnclosedObject", `{`, 1, "unexpected end of input looking for an object key"},
		{"MissingColon", `{"a" 1}`, 5, "invalid character '1' after an object key, want ':'"},
		{"TrailingCommaObject", `{"a":1,}`, 7, "invalid character '}' looking for an object key"},
		{"UnquotedKey", `{a:1}`, 1, "invalid character 'a' looking for an object key"},
		{"MissingComma", "[1,\n  2 3]", 8, "invalid character '3' after an array element, want ',' or ']'"},
		{"TrailingCommaArray", `[1,]`, 3, "invalid character ']' looking for a value"},
		{"UnclosedArray", `[1`, 2, "unexpected end of input after an array element, want ',' or ']'"},
		{"BadObjectEnd", `{"a":1]`, 6, "invalid character ']' after an object value, want ',' or '}'"},
		{"TrailingValue", `{} x`, 3, "invalid character 'x' after the top-level value"},
		{"SecondBOM", BOM + BOM + `1`, 3, "invalid character '\\ufeff' looking for a value"},
		{"BadLiteral", `[tru]`, 1, "invalid literal, want true"},
		{"LeadingZero", `01`, 1, "invalid character '1' after the top-level value"},
		{"LoneMinus", `[-]`, 1, "invalid number"},
		{"NoFraction", `1.`, 0, "invalid number"},
		{"NoExponent", `1e+`, 0, "invalid number"},
		{"BadEscape", `"ab\q"`, 3, "invalid escape 'q' in string"},
		{"ShortUnicodeEscape", `"\u12"`, 1, `invalid \u escape`},
		{"LoneHighSurrogate", `"x\ud800"`, 2, `invalid \u escape: unpaired surrogate`},
		{"LoneLowSurrogate", `"\udc00"`, 1, `invalid \u escape: unpaired surrogate`},
		{"HighThenLetter", `"\ud800\u0041"`, 1, `invalid \u escape: unpaired surrogate`},
		{"UnterminatedString", `["x`, 1, "unterminated string"},
		{"UnterminatedEscape", `"\`, 1, "unterminated string"},
		{"ControlInString", "\"\x01\"", 1, `control character '\x01' in string`},
		{"NewlineInString", "\"x\ny\"", 2, `control character '\n' in string`},
		{"InvalidUTF8", "{\"a\":\"ok\xff\"}", 8, "invalid UTF-8 in string"},
		{"TruncatedUTF8", "\"\xc3\"", 1, "invalid UTF-8 in string"},
		{"InvalidUTF8InKey", "{\"\xe9\":1}", 2, "invalid UTF-8 in string"},
		{"InvalidByte", "\xff", 0, "invalid character byte 0xff looking for a value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Parse([]byte(tt.src))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse = %v, %v; want a *SyntaxError", v, err)
			}
			if v != nil {
				t.Errorf("Parse returned a value with an error")
			}
			if se.Off != tt.wantOff || se.Msg != tt.wantMsg {
				t.Errorf("error at %d: %q, want at %d: %q", se.Off, se.Msg, tt.wantOff, tt.wantMsg)
			}
			if err.Error() != se.Msg {
				t.Errorf("Error() = %q, want the message %q", err.Error(), se.Msg)
			}
		})
	}
}

func TestParseStrictStrings(t *testing.T) {
	// What is accepted decodes exactly; surrogate pairs join.
	tests := []struct{ src, want string }{
		{`"\ud83d\ude00"`, "😀"},
		{`"\"\\\/\b\f\n\r\t"`, "\"\\/\b\f\n\r\t"},
		{`"\u00E9é"`, "éé"},
		{`"\ufffd"`, "\ufffd"}, // an escaped replacement character is a character like any other
		{"\"\u2028\"", "\u2028"},
	}
	for _, tt := range tests {
		v, err := Parse([]byte(tt.src))
		if err != nil || v.Str != tt.want {
			t.Errorf("Parse(%s) = %+v, %v; want %q", tt.src, v, err, tt.want)
		}
	}
}

func TestParseSkipsBOM(t *testing.T) {
	data := []byte(BOM + "{\"a\":\n 1}")
	v, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	// Offsets count the mark's bytes; columns do not.
	if v.Off != 3 || v.Fields[0].KeyOff != 4 {
		t.Errorf("offsets = %d, %d; want 3, 4", v.Off, v.Fields[0].KeyOff)
	}
	if line, col := LineCol(data, v.Fields[0].KeyOff); line != 1 || col != 2 {
		t.Errorf("LineCol(key) = %d:%d, want 1:2", line, col)
	}
	if line, col := LineCol(data, v.Fields[0].Val.Off); line != 2 || col != 2 {
		t.Errorf("LineCol(value) = %d:%d, want 2:2", line, col)
	}
	// Only a leading mark is skipped.
	if _, err := Parse([]byte(" " + BOM + "1")); err == nil {
		t.Error("Parse accepted a byte order mark after white space")
	}
}

func TestParseDepthLimit(t *testing.T) {
	nest := func(open, close string, n int) string {
		return strings.Repeat(open, n) + "1" + strings.Repeat(close, n)
	}
	tests := []struct {
		name    string
		src     string
		wantOff int // -1 when the document is accepted
	}{
		{"ArraysAtLimit", nest("[", "]", MaxDepth), -1},
		{"ObjectsAtLimit", nest(`{"k":`, "}", MaxDepth), -1},
		{"MixedAtLimit", nest(`[{"k":`, "}]", MaxDepth/2), -1},
		{"ArraysOverLimit", nest("[", "]", MaxDepth+1), MaxDepth},
		{"ObjectsOverLimit", nest(`{"k":`, "}", MaxDepth+1), 5 * MaxDepth},
		{"EmptyOverLimit", strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), MaxDepth},
		{"Unclosed", strings.Repeat("[", 10000), MaxDepth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src))
			if tt.wantOff < 0 {
				if err != nil {
					t.Errorf("Parse: %v, want no error", err)
				}
				return
			}
			var se *SyntaxError
			if !errors.As(err, &se) || se.Off != tt.wantOff || se.Msg != "nesting deeper than 64 levels" {
				t.Errorf("Parse error = %#v, want nesting error at %d", se, tt.wantOff)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	want := map[Kind]string{Null: "null", Bool: "boolean", Number: "number", String: "string", Array: "array", Object: "object"}
	for k, w := range want {
		if got := k.String(); got != w {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, w)
		}
	}
}

// FuzzParse checks Parse against encoding/json: it never panics, accepts only
// valid JSON, accepts all valid JSON save what it rejects on purpose, decodes
// the same values, and records offsets that point at each value's first byte.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"a": [1, -2.5e3, true, false, null, "x\u00e9\ud83d\ude00"], "a": {}}`,
		BOM + `{"k": "v"}`,
		"{\"a\":\n\"\xff\"}",
		`"\ud800"`,
		strings.Repeat("[", MaxDepth+1),
		`{"a" 1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Parse(data)
		body := bytes.TrimPrefix(data, []byte(BOM))
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Off < 0 || se.Off > len(data) || se.Msg == "" {
				t.Fatalf("Parse(%q): malformed error %#v", data, err)
			}
			strict := strings.Contains(se.Msg, "UTF-8") || strings.Contains(se.Msg, "surrogate") || strings.Contains(se.Msg, "nesting")
			if json.Valid(body) && !strict {
				t.Fatalf("Parse(%q) rejected valid JSON: %v", data, err)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("Parse accepted invalid JSON %q", data)
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var want any
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("encoding/json: %v", err)
		}
		if got := toAny(t, data, v); !reflect.DeepEqual(got, want) {
			t.Fatalf("Parse(%q) = %#v, encoding/json decodes %#v", data, got, want)
		}
		for off := 0; off <= len(data); off += max(1, len(data)/16) {
			line, col := LineCol(data, off)
			if l2, c2 := NewLines(data).LineCol(off); line < 1 || col < 1 || l2 != line || c2 != col {
				t.Fatalf("LineCol(%q, %d) = %d:%d, Lines says %d:%d", data, off, line, col, l2, c2)
			}
		}
	})
}

// toAny converts v as encoding/json would (the last of duplicate keys wins),
// checking on the way that every offset points at the right byte.
func toAny(t *testing.T, data []byte, v *Value) any {
	t.Helper()
	first := map[Kind]string{Null: "n", Bool: "tf", Number: "-0123456789", String: `"`, Array: "[", Object: "{"}
	if v.Off < 0 || v.Off >= len(data) || !strings.ContainsRune(first[v.Kind], rune(data[v.Off])) {
		t.Fatalf("%v at offset %d of %q", v.Kind, v.Off, data)
	}
	switch v.Kind {
	case Bool:
		return v.Bool
	case Number:
		return v.Num
	case String:
		return v.Str
	case Array:
		out := make([]any, len(v.Elems))
		for i, e := range v.Elems {
			out[i] = toAny(t, data, e)
		}
		return out
	case Object:
		out := make(map[string]any, len(v.Fields))
		for _, f := range v.Fields {
			if f.KeyOff < 0 || f.KeyOff >= len(data) || data[f.KeyOff] != '"' {
				t.Fatalf("key %q at offset %d of %q", f.Key, f.KeyOff, data)
			}
			out[f.Key] = toAny(t, data, f.Val)
		}
		return out
	}
	return nil
}
