package jsonpos

import (
	"errors"
	"testing"
)

func TestDescribe(t *testing.T) {
	tests := []struct {
		line, col  int
		path, want string
	}{
		{12, 5, "$.a[0]", "f.json:12:5: $.a[0]: bad"},
		{3, 1, "", "f.json:3:1: bad"},
		{0, 0, "$.a", "f.json: $.a: bad"},
	}
	for _, tt := range tests {
		if got := Describe("f.json", tt.line, tt.col, tt.path, "bad"); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

type testErr string

func (e testErr) Error() string { return string(e) }

func TestErrorLists(t *testing.T) {
	es := []testErr{"one", "two"}
	if got := JoinErrors(es); got != "one\ntwo" {
		t.Fatalf("JoinErrors: %q", got)
	}
	all := UnwrapErrors(es)
	var target testErr
	if len(all) != 2 || !errors.As(errors.Join(all...), &target) || target != "one" {
		t.Fatalf("UnwrapErrors: %v", all)
	}
}
