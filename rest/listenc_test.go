package rest

import (
	"bytes"
	"encoding/json"
	"math"
	"net/url"
	"strings"
	"testing"
	"time"

	"gatehouse/datastore"
	"gatehouse/internal/pgtest"
)

// trickyStrings are strings whose JSON form encoding/json has rules for.
var trickyStrings = []string{
	"", "plain", `quote " and backslash \`, "<b>Bolt & Nut</b>", "tab\tnewline\nreturn\rback\bfeed\f",
	"\x00\x01\x1f\x7f", "é ü 漢字 🎉", "line\u2028para\u2029end", "bad \xff utf-8 \xc3", "\ufffd", "/slash",
}

// TestJSONStringMatchesEncodingJSON: appendJSONString writes what encoding/json writes with
// HTML escaping off (writeJSON's setting).
func TestJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range trickyStrings {
		if got, want := string(appendJSONString(nil, s)), encodingJSON(t, s); got != want {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	}
	for c := range 256 { // every byte alone, valid or not
		s := string([]byte{byte(c)})
		if got, want := string(appendJSONString(nil, s)), encodingJSON(t, s); got != want {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	}
}

// TestJSONFloatMatchesEncodingJSON: numbers as encoding/json writes them; NaN and infinities
// are an error for both.
func TestJSONFloatMatchesEncodingJSON(t *testing.T) {
	for _, f := range []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 12.5, 1e20, 1e21, 123456789e15, 1e-6, 1e-7,
		9.999e-7, 1.5e-300, math.MaxFloat64, math.SmallestNonzeroFloat64, 1 << 53, 1<<53 + 2, -2.5e-10} {
		got, err := appendJSONFloat(nil, f)
		if err != nil {
			t.Fatalf("appendJSONFloat(%g): %v", f, err)
		}
		if want := encodingJSON(t, f); string(got) != want {
			t.Errorf("appendJSONFloat(%g) = %s, want %s", f, got, want)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if _, err := appendJSONFloat(nil, f); err == nil {
			t.Errorf("appendJSONFloat(%g): no error", f)
		}
		if _, err := json.Marshal(f); err == nil {
			t.Errorf("encoding/json accepts %g: the encoder's rule must follow", f)
		}
	}
}

// TestValueMatchesEncodingJSON: each kind of stored value is written as jsonValue and
// encoding/json write its Go form.
func TestValueMatchesEncodingJSON(t *testing.T) {
	values := []datastore.Value{
		{Kind: datastore.ValueNull},
		{Kind: datastore.ValueLong, Int: math.MaxInt64}, {Kind: datastore.ValueLong, Int: math.MinInt64},
		{Kind: datastore.ValueLong, Int: 1<<53 + 1}, {Kind: datastore.ValueLong},
		{Kind: datastore.ValueNumber, Num: 0.1}, {Kind: datastore.ValueNumber, Num: 1e-9},
		{Kind: datastore.ValueBool, Int: 1}, {Kind: datastore.ValueBool},
		{Kind: datastore.ValueDate, Str: "2020-01-15T10:11:12.999999999Z"},
		{Kind: datastore.ValueDate, Str: "0001-01-01T00:00:00.000000000Z"},
		{Kind: datastore.ValueObject, Str: `{"z":1,"a":[1.5,"<x>",null,true],"é":{"n":12345678901234567890,"s":"\u2028"}}`},
		{Kind: datastore.ValueObject, Str: `[{"b":2,"a":1}]`},
	}
	for _, s := range trickyStrings {
		values = append(values, datastore.Value{Kind: datastore.ValueString, Str: s})
	}
	for _, v := range values {
		x, err := v.Any()
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendValue(nil, &v)
		if err != nil {
			t.Fatalf("appendValue(%+v): %v", v, err)
		}
		if want := encodingJSON(t, jsonValue(x)); string(got) != want {
			t.Errorf("appendValue(%+v) = %s, want %s", v, got, want)
		}
	}
	for _, v := range []datastore.Value{{Kind: datastore.ValueNumber, Num: math.NaN()}, {Kind: datastore.ValueObject, Str: "{oops"},
		{Kind: datastore.ValueDate, Str: "never"}} {
		if _, err := appendValue(nil, &v); err == nil {
			t.Errorf("appendValue(%+v): no error", v)
		}
	}
}

// encodingJSON is x as writeJSON's encoder writes it.
func encodingJSON(t *testing.T, x any) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(x); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// trickyModel has every type and both relation kinds.
const trickyModel = `{"dataClasses":[
 {"name":"Owner","attributes":[
   {"name":"code","type":"string","primaryKey":true},
   {"name":"label","type":"string"},
   {"name":"things","kind":"relatedEntities","path":"owner"}]},
 {"name":"Thing","attributes":[
   {"name":"ID","type":"long","primaryKey":true,"autoincrement":true},
   {"name":"name","type":"string"},
   {"name":"n","type":"long"},
   {"name":"x","type":"number"},
   {"name":"ok","type":"bool"},
   {"name":"when","type":"date"},
   {"name":"tag","type":"uuid"},
   {"name":"meta","type":"object"},
   {"name":"owner","kind":"relatedEntity","type":"Owner"},
   {"name":"photo","type":"picture"},
   {"name":"file","type":"blob"},
   {"name":"hidden","type":"string","exposed":false}]}]}`

// TestListAnswersAsEntitiesDo: each entity of a list (written from typed rows) is byte for
// byte the entity GET /rest/DC(key) answers (written through objects and encoding/json),
// for tricky values of every type (binary ones as deferred URIs), nulls, keys that need escaping in URLs, and the shapes
// $attributes and $expand give. On both backends.
func TestListAnswersAsEntitiesDo(t *testing.T) {
	h := newHarness(t, harnessOptions{model: trickyModel})
	ctx := t.Context()
	m := h.db.Model()
	owner, thing := m.DataClass("Owner"), m.DataClass("Thing")
	save := func(dc *datastore.DataClass, values map[string]any) {
		e := dc.NewEntity()
		for k, v := range values {
			e.Values[k] = v
		}
		if _, err := h.db.Save(ctx, e); err != nil {
			t.Fatalf("save %v: %v", values, err)
		}
	}
	save(owner, map[string]any{"code": "a/b c&d", "label": "<Owner & \"1\">"})
	save(owner, map[string]any{"code": "é\u2028", "label": nil})
	when := time.Date(1, 2, 3, 4, 5, 6, 789_123_456, time.UTC)
	for i, s := range trickyStrings {
		if pgtest.Active() { // PostgreSQL's text holds neither NUL nor invalid UTF-8
			s = strings.ReplaceAll(strings.ToValidUTF8(s, "?"), "\x00", "0")
		}
		save(thing, map[string]any{
			"name": s, "n": int64(1<<53 + 1 - i), "x": []float64{0.1, 1e21, 1e-7, -0.0, 12345.678}[i%5],
			"ok": i%2 == 0, "when": when.Add(time.Duration(i) * 1e15), "tag": "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
			"meta": map[string]any{"s": s, "list": []any{1.5, nil, true, "<&>"}, "big": 1e300}, "owner": []any{"a/b c&d", "é\u2028", nil}[i%3],
			"hidden": "never shown",
			"photo":  []any{datastore.Binary{Data: []byte("\x89PNG\r\n\x1a\n\x00"), Type: "image/png"}, nil}[i%2],
			"file":   []any{nil, datastore.Binary{Data: []byte{0, 1, 2}}}[i%2],
		})
	}
	save(thing, map[string]any{"n": int64(math.MinInt64)}) // every other attribute null
	c := h.client()
	for _, query := range []string{"", "$attributes=name,owner", "$expand=owner", "$attributes=meta,owner.label", "$attributes=photo,file", "$orderby=" + url.QueryEscape("ID desc") + "&$top=5&$skip=2"} {
		for _, dc := range []string{"Thing", "Owner"} {
			if dc == "Owner" && strings.HasPrefix(query, "$orderby") {
				continue
			}
			list := c.get("/rest/" + dc + "?" + query)
			if list.status != 200 {
				t.Fatalf("GET /rest/%s?%s: %d %s", dc, query, list.status, list.body)
			}
			var answer struct {
				Entities []json.RawMessage `json:"__ENTITIES"`
			}
			if err := json.Unmarshal(list.body, &answer); err != nil {
				t.Fatal(err)
			}
			if len(answer.Entities) == 0 {
				t.Fatalf("GET /rest/%s?%s: no entities", dc, query)
			}
			if dc == "Thing" && query == "$attributes=photo,file" &&
				(!bytes.Contains(list.body, []byte(`"image":true`)) || !bytes.Contains(list.body, []byte(`?$binary=true&$expand=file"`))) {
				t.Fatalf("the list lacks the binary attributes' deferred URIs: %s", list.body)
			}
			for _, raw := range answer.Entities {
				var head struct {
					Key string `json:"__KEY"`
				}
				if err := json.Unmarshal(raw, &head); err != nil {
					t.Fatal(err)
				}
				one := c.get("/rest/" + dc + "(" + url.PathEscape(head.Key) + ")?" + query)
				want := strings.Replace(strings.TrimSpace(string(one.body)), `"__entityModel":"`+dc+`",`, "", 1)
				got := listEntityText(t, list.body, raw)
				if got != want {
					t.Errorf("GET /rest/%s?%s, entity %q:\ngot  %s\nwant %s", dc, query, head.Key, got, want)
				}
				if strings.Contains(got, "never shown") {
					t.Errorf("an attribute not exposed was answered: %s", got)
				}
			}
		}
	}
}

// listEntityText finds raw (as json.RawMessage decoded it, the same bytes) in the answer.
func listEntityText(t *testing.T, body []byte, raw json.RawMessage) string {
	t.Helper()
	if !bytes.Contains(body, raw) {
		t.Fatalf("entity %s not found as is in %s", raw, body)
	}
	return string(raw)
}
