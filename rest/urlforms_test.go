package rest

import (
	"net/url"
	"testing"
)

// TestURLForms checks the URL forms of the 4D documentation (SPEC §3.5).
func TestURLForms(t *testing.T) {
	h := dataHarness(t, "")
	c := h.client()
	q := url.QueryEscape
	tests := []struct {
		name, method, path string
		status, code       int
		has, lacks         []string
	}{
		{"TrailingSlashBeforeQuery", "GET", "/rest/Employees/?$filter=" + q("lastName = 'carter'"), 200, 0, []string{`"__COUNT":1`, `"firstName":"Cid"`}, nil},
		{"TrailingSlashAfterKey", "GET", "/rest/Employees(2)/", 200, 0, []string{`"firstName":"Bob"`}, nil},
		{"BracketKey", "GET", "/rest/Employees[3]", 200, 0, []string{`"__KEY":"3"`, `"firstName":"Cid"`}, nil},
		{"BracketKeyAttribute", "GET", "/rest/Employees[3]/firstName", 200, 0, []string{`{"firstName":"Cid"}`}, nil},
		{"AttributeKey", "GET", "/rest/Employees:lastName(Carter)", 200, 0, []string{`"__KEY":"3"`}, nil},
		{"AttributeKeyQuoted", "GET", `/rest/Employees:lastName("O'Brien")`, 200, 0, []string{`"__KEY":"4"`}, nil},
		{"AttributeKeyNumber", "GET", "/rest/Companies:ID(2)", 200, 0, []string{`"name":"Bolt"`}, nil},
		{"AttributeKeyNoMatch", "GET", "/rest/Employees:lastName(Nobody)", 404, 1800, nil, nil},
		{"AttributeKeyUnknownAttribute", "GET", "/rest/Employees:nope(1)", 404, 1500, nil, nil},
		{"AttributeKeyNoWildcard", "GET", "/rest/Employees:lastName(C@)", 404, 1800, nil, nil},
		{"AttributeListAsPath", "GET", "/rest/Employees/firstName,lastName?$top=1", 200, 0, []string{`"firstName":"Ann","lastName":"Archer"}`}, []string{"salary"}},
		{"OneAttributeAsPath", "GET", "/rest/Employees/firstName?$top=1", 200, 0, []string{`"__STAMP":1,"firstName":"Ann"}`}, []string{"lastName"}},
		{"AttributeListOfOneEntity", "GET", "/rest/Employees(1)/firstName,salary", 200, 0, []string{`"firstName":"Ann","salary":5000}`}, []string{"lastName"}},
		{"AttributesStar", "GET", "/rest/Employees(1)?$attributes=*", 200, 0, []string{`"firstName":"Ann"`, `"lastName":"Archer"`, `"employer":{"__deferred"`}, nil},
		{"RelationStar", "GET", "/rest/Employees(1)?$attributes=" + q("firstName,employer.*"), 200, 0, []string{`"employer":{"__KEY":"1"`, `"name":"Acme","city":"Paris"`}, []string{"lastName"}},
		{"UnquotedFilter", "GET", "/rest/Employees?$filter=" + q("lastName=Carter"), 200, 0, []string{`"__COUNT":1`, `"__KEY":"3"`}, nil},
		{"UnquotedFilterBegin", "GET", "/rest/Employees?$filter=" + q("lastName begin b"), 200, 0, []string{`"__COUNT":1`, `"__KEY":"2"`}, nil},
		{"UnquotedFilterThroughRelation", "GET", "/rest/Employees?$filter=" + q("employer.name!=acme"), 200, 0, []string{`"__KEY":"3"`}, nil},
		{"DeleteWithTrailingSlash", "POST", "/rest/Employees(4)/?$method=delete", 200, 0, []string{`{"ok":true}`}, nil},
		{"FunctionStillCalled", "POST", "/rest/Employees/raise", 200, 0, []string{`"raised`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := ""
			if tt.path == "/rest/Employees/raise" {
				body = "[2]"
			}
			r := c.do(tt.method, tt.path, nil, body)
			wantStatus(t, r, tt.status, tt.code)
			wantHas(t, r, tt.has...)
			wantLacks(t, r, tt.lacks...)
		})
	}
}
