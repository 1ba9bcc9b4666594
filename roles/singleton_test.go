package roles

import (
	"reflect"
	"strings"
	"testing"
)

// TestSingletonPermissions: a singleton function is allowed by its own setting
// (singletonMethod), else its singleton's (singleton), else the datastore's execute;
// promote follows the same chain.
func TestSingletonPermissions(t *testing.T) {
	c, err := Parse([]byte(`{
	 "privileges":[{"privilege":"a"},{"privilege":"b"},{"privilege":"c"}],
	 "permissions":{"allowed":[
	   {"applyTo":"ds","type":"datastore","execute":["c"]},
	   {"applyTo":"Cart","type":"singleton","execute":["a"],"promote":["b"]},
	   {"applyTo":"Cart.checkout","type":"singletonMethod","execute":["b"]}
	 ]}}`))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		held []string
		r    Resource
		want bool
	}{
		{[]string{"a"}, SingletonMethodResource("Cart", "add"), true},
		{[]string{"b"}, SingletonMethodResource("Cart", "add"), false},
		{[]string{"b"}, SingletonMethodResource("Cart", "checkout"), true},
		{[]string{"a"}, SingletonMethodResource("Cart", "checkout"), false},
		{[]string{"c"}, SingletonMethodResource("Other", "x"), true},
		{[]string{"a"}, SingletonMethodResource("Other", "x"), false},
		{[]string{"a"}, MethodResource("Cart", "add"), false}, // a dataclass function is another resource
	}
	for _, tc := range cases {
		if got := c.Allowed(tc.held, Execute, tc.r); got != tc.want {
			t.Errorf("Allowed(%v, execute, %s) = %v, want %v", tc.held, tc.r, got, tc.want)
		}
	}
	if got := c.Promoted(SingletonMethodResource("Cart", "add")); !reflect.DeepEqual(got, []string{"b"}) {
		t.Errorf("Promoted = %v, want [b]", got)
	}
	for _, bad := range []string{
		`{"applyTo":"Cart.x","type":"singleton","execute":[]}`,
		`{"applyTo":"Cart","type":"singletonMethod","execute":[]}`,
		`{"applyTo":"Cart","type":"singleton","read":[]}`,
	} {
		if _, err := Parse([]byte(`{"permissions":{"allowed":[` + bad + `]}}`)); err == nil || !strings.Contains(err.Error(), "singleton") {
			t.Errorf("%s: err %v", bad, err)
		}
	}
}
