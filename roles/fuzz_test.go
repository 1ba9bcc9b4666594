package roles

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"testing"
)

// FuzzParse checks that Parse never panics and either returns a valid Config
// or a non-empty ErrorList of positioned errors, and that a Config it returns
// answers consistently. Seeds are in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(shop))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			checkErrorList(t, data, c, err)
			return
		}
		if c == nil {
			t.Fatal("Parse returned neither a Config nor an error")
		}
		// Only valid JSON is accepted (a byte order mark aside).
		if !json.Valid(bytes.TrimPrefix(data, []byte(bom))) {
			t.Fatalf("Parse accepted invalid JSON %q", data)
		}
		checkConfig(t, c)
	})
}

func checkErrorList(t *testing.T, data []byte, c *Config, err error) {
	t.Helper()
	if c != nil {
		t.Fatal("Parse returned both a Config and an error")
	}
	var list ErrorList
	if !errors.As(err, &list) || len(list) == 0 {
		t.Fatalf("error %v (%T) is not a non-empty ErrorList", err, err)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
	}
	lines := bytes.Count(data, []byte("\n")) + 1
	for _, e := range list {
		if e.File != "roles.json" || e.Line < 1 || e.Line > lines || e.Column < 1 || e.Message == "" {
			t.Errorf("malformed error %#v", e)
		}
	}
}

// checkConfig checks invariants that hold for every valid configuration.
func checkConfig(t *testing.T, c *Config) {
	t.Helper()
	all := c.Expand(c.privNames, nil)
	if !slices.IsSorted(all) || len(slices.Compact(slices.Clone(all))) != len(all) {
		t.Errorf("Expand = %q, want sorted and unique", all)
	}
	if slices.Contains(all, Guest) {
		t.Errorf("Expand = %q, want no %q", all, Guest)
	}
	for _, name := range all {
		if got, ok := c.Canonical(name); !ok || got != name || !c.IsPrivilege(name) {
			t.Errorf("Canonical(%q) = %q, %v, want itself", name, got, ok)
		}
	}
	resources := []Resource{DatastoreResource(), DataClassResource("Unlisted"), MethodResource("", "unlisted")}
	for r := range c.rules {
		resources = append(resources, r)
	}
	for _, r := range resources {
		for _, a := range actions {
			// More privileges never mean less access.
			if c.Allowed(nil, a, r) && !c.Allowed(all, a, r) {
				t.Errorf("Allowed(%s, %v): a guest may, a session holding everything may not", a, r)
			}
		}
		if p := c.Promoted(r); !slices.IsSorted(p) || slices.Contains(p, Guest) {
			t.Errorf("Promoted(%v) = %q, want sorted, without %q", r, p, Guest)
		}
	}
}
