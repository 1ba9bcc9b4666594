package rest

import (
	"net/url"
	"testing"
)

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
		{"ComputeSum", "GET", "/rest/Employees/salary?$compute=sum", 200, 0, []string{"18000"}},
		{"ComputeAverageFiltered", "GET", "/rest/Employees/salary/?$compute=average&$filter=" + "active%3Dtrue", 200, 0, []string{"4666.66"}},
		{"ComputeAll", "GET", "/rest/Employees/salary?$compute=$all", 200, 0, []string{`{"salary":{"count":4,"sum":18000,"average":4500,"min":3000,"max":6000}}`}},
		{"ComputeMinOfText", "GET", "/rest/Employees/lastName?$compute=min", 200, 0, []string{`"Archer"`}},
		{"ComputeCountOfSelection", "GET", "/rest/Employees?$compute=count&$filter=active%3Dtrue", 200, 0, []string{`3`}},
		{"ComputeSumOfText", "GET", "/rest/Employees/lastName?$compute=sum", 400, 1806, nil},
		{"ComputeUnknownOp", "GET", "/rest/Employees/salary?$compute=median", 400, 1806, nil},
		{"ComputeOnAnEntityRefused", "GET", "/rest/Employees(1)?$compute=count", 400, 1811, nil},
		{"Distinct", "GET", "/rest/Employees/active?$distinct=true", 200, 0, []string{`[false,true]`}},
		{"DistinctDates", "GET", "/rest/Employees/hired?$distinct=true", 200, 0, []string{`["2019-05-06T00:00:00.000Z","2020-01-02T00:00:00.000Z","2021-03-04T00:00:00.000Z"]`}},
		{"DistinctNeedsAnAttribute", "GET", "/rest/Employees?$distinct=true", 400, 1806, nil},
		{"LockOnAListRefused", "GET", "/rest/Employees?$lock=true", 400, 1811, nil},
		{"LockBadValue", "GET", "/rest/Employees(1)?$lock=maybe", 400, 1806, nil},
		{"QueryPlan", "GET", "/rest/Employees?$filter=" + url.QueryEscape("lastName=a@ AND salary > 1") + "&$queryplan=true&$top=1", 200, 0,
			[]string{`,"__queryPlan":{"item":"And","subquery":[{"item":"[index : Employees.lastName ] = a@"},{"item":"Employees.salary > 1"}]}}`}},
		{"QueryPath", "GET", "/rest/Employees?$filter=" + url.QueryEscape("lastName=a@ OR salary > 4500") + "&$querypath=true&$method=entityset", 200, 0,
			[]string{`"__queryPath":{"steps":[{"description":"Or","recordsfounds":2,"steps":[{"description":"[index : Employees.lastName ] = a@","recordsfounds":1},{"description":"Employees.salary > 4500","recordsfounds":2}]}]}`, `"__ENTITYSET"`}},
		{"QueryPlanBadValue", "GET", "/rest/Employees?$queryplan=yes", 400, 1806, nil},
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
