package rest

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var setURIRe = regexp.MustCompile(`"__ENTITYSET":"(/rest/[A-Za-z]+/\$entityset/[0-9A-F]{32})"`)

// setOf returns the __ENTITYSET of an answer, failing the test without one.
func setOf(t *testing.T, r response) string {
	t.Helper()
	m := setURIRe.FindSubmatch(r.body)
	if m == nil {
		t.Fatalf("answer has no __ENTITYSET: %s", r.body)
	}
	return string(m[1])
}

func wantHas(t *testing.T, r response, parts ...string) {
	t.Helper()
	for _, s := range parts {
		if !strings.Contains(string(r.body), s) {
			t.Errorf("answer lacks %s:\n%s", s, r.body)
		}
	}
}

func wantLacks(t *testing.T, r response, parts ...string) {
	t.Helper()
	for _, s := range parts {
		if strings.Contains(string(r.body), s) {
			t.Errorf("answer has %s:\n%s", s, r.body)
		}
	}
}

func TestEntitySets(t *testing.T) {
	q := url.QueryEscape
	h := dataHarness(t, "")
	c := h.client()
	r := c.get("/rest/Employees?$method=entityset&$orderby=" + q("salary desc") + "&$top=2")
	wantStatus(t, r, 200, 0)
	set := setOf(t, r)
	wantHas(t, r, `{"__ENTITYSET":"`+set+`","__entityModel":"Employees","__COUNT":4,"__SENT":2,"__FIRST":0,"__ENTITIES":[{"__KEY":"3"`, `"__KEY":"1"`)

	t.Run("Pages", func(t *testing.T) {
		r := c.get(set + "?$skip=2&$top=2&$attributes=firstName")
		wantStatus(t, r, 200, 0)
		wantHas(t, r, `"__ENTITYSET":"`+set+`"`, `"__COUNT":4,"__SENT":2,"__FIRST":2,"__ENTITIES":[{"__KEY":"2","__TIMESTAMP":"2026-03-04T05:06:07.000Z","__STAMP":1,"firstName":"Bob"},{"__KEY":"4"`)
		wantLacks(t, r, "lastName")
		wantHas(t, c.get(set+"?$top=1&$expand=employer"), `"employer":{"__KEY":"2"`, `"name":"Bolt"`)
		wantHas(t, c.get(set+"/?$skip=3"), `"__SENT":1,"__FIRST":3`) // trailing slash
		wantBody(t, c.get(set+"?$compute=count"), `4`)
	})
	t.Run("QueryInsideTheSet", func(t *testing.T) {
		r := c.get(set + "?$filter=" + q("active = true") + "&$orderby=" + q("firstName"))
		wantStatus(t, r, 200, 0)
		wantHas(t, r, `"__COUNT":3`, `"firstName":"Ann"`)
		if i, j := strings.Index(string(r.body), "Ann"), strings.Index(string(r.body), "Dee"); i < 0 || j < i {
			t.Fatalf("not ordered by firstName: %s", r.body)
		}
		sub := c.get(set + "?$filter=" + q("salary > 4500") + "&$method=entityset")
		wantHas(t, sub, `"__COUNT":2`)
		if setOf(t, sub) == set {
			t.Fatal("a query with $method=entityset must answer a new set")
		}
	})
	t.Run("LogicOperators", func(t *testing.T) {
		other := setOf(t, c.get("/rest/Employees?$method=entityset&$filter="+q("employer.name = 'acme'")))
		id := other[strings.LastIndexByte(other, '/')+1:]
		for op, want := range map[string]string{"AND": `"__COUNT":2`, "INTERSECT": `"__COUNT":2`, "EXCEPT": `"__COUNT":2`, "OR": `"__COUNT":4`} {
			r := c.get(set + "?$logicOperator=" + op + "&$otherCollection=" + id + "&$method=entityset")
			wantStatus(t, r, 200, 0)
			wantHas(t, r, want)
			setOf(t, r)
		}
		r := c.get(set + "?$logicOperator=EXCEPT&$otherCollection=" + id)
		wantHas(t, r, `"__KEY":"3"`, `"__KEY":"4"`)
		wantLacks(t, r, `"__KEY":"1"`, "__ENTITYSET")
		wantStatus(t, c.get(set+"?$logicOperator=XOR&$otherCollection="+id), 400, 1806)
		wantStatus(t, c.get(set+"?$logicOperator=AND&$otherCollection="+strings.Repeat("A", 32)), 404, 1800)
	})
	t.Run("OtherSessionGets404", func(t *testing.T) {
		wantStatus(t, h.client().get(set), 404, 1800)
		wantStatus(t, h.client().get(set+"?$method=release"), 404, 1800)
	})
	t.Run("OtherDataClassGets404", func(t *testing.T) {
		wantStatus(t, c.get(strings.Replace(set, "Employees", "Companies", 1)), 404, 1800)
	})
	t.Run("MalformedID", func(t *testing.T) {
		wantStatus(t, c.get("/rest/Employees/$entityset/1234"), 400, 1806)
		wantStatus(t, c.get("/rest/Employees/$entityset/"+strings.Repeat("a", 32)), 400, 1806)
	})
	t.Run("ListedInInfo", func(t *testing.T) {
		admin := dataHarnessAdmin(t)
		s := setOf(t, admin.get("/rest/Employees?$method=entityset&$timeout=60"))
		r := admin.get("/rest/$info")
		wantStatus(t, r, 200, 0)
		wantHas(t, r, `"entitySetCount":1`, `"id":"`+s[len(s)-32:]+`"`, `"dataClass":"Employees"`, `"selectionSize":4`, `"timeout":60`)
	})
	t.Run("ReleaseThenRebuildBySavedFilter", func(t *testing.T) {
		s := setOf(t, c.get("/rest/Employees?$method=entityset&$filter="+q("salary > 3500")+"&$savedfilter="+q("salary > 3500")+"&$savedorderby=salary"))
		wantBody(t, c.get(s+"?$method=release"), `{"ok":true}`)
		wantStatus(t, c.get(s), 404, 1800)
		wantStatus(t, c.get(s+"?$method=release"), 404, 1800)
		r := c.get(s + "?$savedfilter=" + q("salary > 3500") + "&$savedorderby=salary")
		wantStatus(t, r, 200, 0)
		wantHas(t, r, `"__COUNT":3`, `"__ENTITIES":[{"__KEY":"2"`)
		if setOf(t, r) == s {
			t.Fatal("a rebuilt set must have a new ID")
		}
	})
	t.Run("DeleteThroughSetAndClean", func(t *testing.T) {
		s := setOf(t, c.get("/rest/Employees?$method=entityset&$filter="+q("active = true")))
		part := setOf(t, c.get("/rest/Employees?$method=entityset&$filter="+q("ID = 4")))
		wantBody(t, c.post(part+"?$method=delete", ""), `{"ok":true}`)
		wantStatus(t, c.get("/rest/Employees(4)"), 404, 1800)
		r := c.get(s)
		wantHas(t, r, `"__COUNT":3,"__SENT":2`) // the set still counts the dropped entity
		cleaned := c.get(s + "?$clean=true")
		wantHas(t, cleaned, `"__COUNT":2,"__SENT":2`)
		if setOf(t, cleaned) == s {
			t.Fatal("$clean must answer a new set")
		}
		wantStatus(t, c.get(s+"?$method=delete"), 400, 1812) // delete needs POST
	})
	t.Run("SubEntitySet", func(t *testing.T) {
		r := c.get("/rest/Companies(1)/employees?$method=subentityset&$subOrderby=" + q("firstName desc"))
		wantStatus(t, r, 200, 0)
		s := setOf(t, r)
		wantHas(t, r, `"__entityModel":"Employees","__COUNT":2`)
		if i, j := strings.Index(string(r.body), "Bob"), strings.Index(string(r.body), "Ann"); i < 0 || j < i {
			t.Fatalf("not ordered by $subOrderby: %s", r.body)
		}
		wantHas(t, c.get(s+"?$skip=1"), `"__FIRST":1`, `"firstName":"Ann"`)
		wantStatus(t, c.get("/rest/Employees(1)/employer?$method=subentityset"), 400, 1806)
	})
	t.Run("FunctionCollectionCarriesSet", func(t *testing.T) {
		hr := dataHarness(t, dataRoles)
		c := hr.client().as("reader,hr")
		r := c.post("/rest/Employees/best", ``)
		wantStatus(t, r, 200, 0)
		s := setOf(t, r)
		wantHas(t, r, `"__COUNT":2`)
		wantHas(t, c.get(s+"?$skip=1"), `"__KEY":"1"`, `"__FIRST":1`)
	})
	t.Run("ExpandedRelationCarriesSet", func(t *testing.T) {
		r := c.get("/rest/Companies(1)?$expand=employees")
		s := setOf(t, r)
		wantHas(t, c.get(s), `"__COUNT":2`)
	})
	t.Run("BoundedPerSession", func(t *testing.T) {
		c := h.client()
		first := setOf(t, c.get("/rest/Employees?$method=entityset"))
		for i := range 100 {
			setOf(t, c.get(fmt.Sprintf("/rest/Employees?$method=entityset&$skip=%d", i%4)))
		}
		wantStatus(t, c.get(first), 404, 1800)
	})
	t.Run("GoneWithLogout", func(t *testing.T) {
		c := h.client()
		s := setOf(t, c.get("/rest/Employees?$method=entityset"))
		wantStatus(t, c.get(s), 200, 0)
		wantStatus(t, c.get("/rest/$directory/logout"), 200, 0)
		wantStatus(t, c.get(s), 404, 1800)
	})
}

// dataHarnessAdmin is a client of a data harness holding WebAdmin (for $info).
func dataHarnessAdmin(t *testing.T) *client {
	h := newHarness(t, harnessOptions{model: testModel, seed: testSeed,
		roles:   `{"privileges":[{"privilege":"WebAdmin"}],"permissions":{"allowed":[]}}`,
		scripts: map[string]string{"DataStore.js": grantScript}})
	return h.client().as("WebAdmin")
}
