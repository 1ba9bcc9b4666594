package rest

import (
	"strings"
	"testing"
)

// TestWritesAs4D checks $method=update as 4D clients use it (SPEC §3.5).
func TestWritesAs4D(t *testing.T) {
	tests := []struct {
		name, path, body string
		status, code     int
		has, lacks       []string
		after            string // a GET whose answer must contain has2
		has2             string
	}{
		{name: "KeyRepeatedWithItsValue", path: "/rest/Employees?$method=update",
			body: `{"__KEY":"1","__STAMP":1,"ID":1,"firstName":"Anne"}`, status: 200,
			has: []string{`"__KEY":"1"`, `"__STAMP":2`, `"firstName":"Anne"`}},
		{name: "KeyRepeatedAsText", path: "/rest/Employees?$method=update",
			body: `{"__KEY":"1","__STAMP":1,"ID":"1","firstName":"Anne"}`, status: 200, has: []string{`"firstName":"Anne"`}},
		{name: "KeyChangedIsRefused", path: "/rest/Employees?$method=update",
			body: `{"__KEY":"1","__STAMP":1,"ID":9,"firstName":"Anne"}`, status: 400, code: 1905,
			after: "/rest/Employees(1)", has2: `"firstName":"Ann"`},
		{name: "KeyWithoutStampUpdatesWithoutCheck", path: "/rest/Employees?$method=update",
			body: `{"__KEY":"2","lastName":"Baker"}`, status: 200, has: []string{`"__STAMP":2`, `"lastName":"Baker"`, `"firstName":"Bob"`}},
		{name: "StaleStampStill409", path: "/rest/Employees?$method=update",
			body: `{"__KEY":"2","__STAMP":5,"lastName":"Baker"}`, status: 409, code: 1263},
		{name: "BatchSavesEachOnItsOwn", path: "/rest/Employees?$method=update",
			body:   `[{"__KEY":"1","__STAMP":1,"firstName":"A2"},{"__KEY":"2","__STAMP":9,"firstName":"B2"},{"firstName":"New"}]`,
			status: 200, has: []string{`"firstName":"A2"`, `{"__KEY":"2","__STAMP":9,"__ERROR":[{"message":"The entity was modified by someone else`, `"errCode":1263}]}`, `"firstName":"New"`},
			lacks: []string{"B2"}, after: "/rest/Employees?$filter=firstName%3D'New'", has2: `"__COUNT":1`},
		{name: "BatchEntityErrorsOfEveryKind", path: "/rest/Employees?$method=update",
			body:   `[{"salary":"lots"},{"nope":1},{"__KEY":"99","__STAMP":1}]`,
			status: 200, has: []string{`"errCode":1905`, `"errCode":1500`, `{"__KEY":"99","__STAMP":1,"__ERROR":[{"message":"Entity not found","componentSignature":"dbmg","errCode":1800}]}`}},
		{name: "AtomicBatchAllOrNothing", path: "/rest/Employees?$method=update&$atomic=true",
			body: `[{"firstName":"Atom"},{"__KEY":"2","__STAMP":9,"firstName":"B2"}]`, status: 409, code: 1263,
			after: "/rest/Employees?$filter=firstName%3D'Atom'", has2: `"__COUNT":0`},
		{name: "AtOnceIsAtomic", path: "/rest/Employees?$method=update&$atOnce=true",
			body: `[{"firstName":"Atom"},{"__KEY":"2","__STAMP":9}]`, status: 409, code: 1263},
		{name: "RefreshSavesNothing", path: "/rest/Employees?$method=update&$refresh=true",
			body: `{"__KEY":"1","__STAMP":1,"firstName":"Preview"}`, status: 200, has: []string{`"firstName":"Preview"`, `"__STAMP":1`},
			after: "/rest/Employees(1)", has2: `"firstName":"Ann"`},
		{name: "RefreshOfANewEntity", path: "/rest/Employees?$method=update&$refresh=true",
			body: `[{"firstName":"Ghost"}]`, status: 200, has: []string{`"firstName":"Ghost"`},
			after: "/rest/Employees?$filter=firstName%3D'Ghost'", has2: `"__COUNT":0`},
		{name: "ExpandOnTheAnswer", path: "/rest/Employees?$method=update&$expand=employer",
			body: `{"__KEY":"1","__STAMP":1,"firstName":"Anne"}`, status: 200, has: []string{`"employer":{"__KEY":"1"`, `"name":"Acme"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := dataHarness(t, "")
			c := h.client()
			r := c.post(tt.path, tt.body)
			wantStatus(t, r, tt.status, tt.code)
			wantHas(t, r, tt.has...)
			wantLacks(t, r, tt.lacks...)
			if tt.after != "" {
				if a := c.get(tt.after); !strings.Contains(string(a.body), tt.has2) {
					t.Errorf("GET %s lacks %s: %s", tt.after, tt.has2, a.body)
				}
			}
		})
	}
}
