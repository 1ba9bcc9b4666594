package rest

import "testing"

// TestOptionsNeverIgnored: an option is implemented or refused with 1811 (an unknown
// $method with 1812), never answered as if it had been applied.
func TestOptionsNeverIgnored(t *testing.T) {
	h := dataHarness(t, "")
	c := h.client()
	tests := []struct {
		name, method, path string
		status, code       int
		has                []string
	}{
		{"AsArray", "GET", "/rest/Employees?$asArray=true&$top=2&$attributes=firstName", 200, 0, []string{`[{"__KEY":"1","__TIMESTAMP":"2026-03-04T05:06:07.000Z","__STAMP":1,"firstName":"Ann"},{"__KEY":"2"`}},
		{"AsArrayOfASet", "GET", "/rest/Employees?$method=entityset&$asArray=true&$top=1", 200, 0, []string{`[{"__KEY":"1"`}},
		{"ComputeRefused", "GET", "/rest/Employees/salary?$compute=sum", 400, 1811, []string{"$compute is not supported"}},
		{"DistinctRefused", "GET", "/rest/Employees/lastName?$distinct=true", 400, 1811, nil},
		{"LockRefused", "GET", "/rest/Employees(1)?$lock=true", 400, 1811, nil},
		{"QueryPlanRefused", "GET", "/rest/Employees?$filter=ID%3D1&$queryplan=true", 400, 1811, nil},
		{"QueryPathRefused", "GET", "/rest/Employees?$querypath=true", 400, 1811, nil},
		{"UnknownOption", "GET", "/rest/Employees?$frobnicate=1", 400, 1811, []string{"Unknown keyword $frobnicate"}},
		{"UnknownOptionOnEntity", "GET", "/rest/Employees(1)?$nope=1", 400, 1811, nil},
		{"UnknownOptionOnWrite", "POST", "/rest/Employees?$method=update&$nope=1", 400, 1811, nil},
		{"UnknownMethod", "GET", "/rest/Employees?$method=explode", 400, 1812, nil},
		{"UnknownMethodOnEntity", "POST", "/rest/Employees(1)?$method=explode", 400, 1812, nil},
		{"PlainQueryStillAccepted", "GET", "/rest/Employees?x=1", 200, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.do(tt.method, tt.path, nil, `{"firstName":"x"}`)
			wantStatus(t, r, tt.status, tt.code)
			wantHas(t, r, tt.has...)
		})
	}
}
