package rest

import (
	"net/url"
	"strings"
	"testing"
)

// classRoles: payroll (an entity function) needs hr; audit (a selection function) runs
// with hr promoted; everything else is open to readers.
const classRoles = `{
 "privileges":[{"privilege":"reader"},{"privilege":"hr"}],
 "permissions":{"allowed":[
   {"applyTo":"ds","type":"datastore","read":["reader"]},
   {"applyTo":"Employees.salary","type":"attribute","read":["hr"]},
   {"applyTo":"Employees.payroll","type":"method","execute":["hr"]},
   {"applyTo":"Employees.audit","type":"method","execute":["guest"],"promote":["hr"]}
 ]}
}`

const classEmployees = `
exports.raise = function (pct) { return "raised " + pct; };
exports.entity = {
  describe: function (greeting) { return greeting + " " + this.firstName + " " + this.lastName; },
  payroll: function () { return this.salary; },
  colleagues: function () { return this.employer.employees; },
  self: function () { return this; },
  hello: function () { return "hello " + this.firstName; },
};
exports.entity.hello.onHttpGet = true;
exports.selection = {
  total: function () { let t = 0; for (const e of this) t += e.salary; return t; },
  names: function () { return this.toArray().map(function (e) { return e.firstName; }); },
  audit: function () { return [this.length, Session.hasPrivilege("hr")]; },
  self: function () { return this; },
};
`

const classDataStore = grantScript + `
exports.nameOf = function (e) { return e.firstName + "/" + e.isSelection; };
exports.countOf = function (sel) { return [sel.length, sel.first().firstName, sel.isSelection === true]; };
`

func classHarness(t *testing.T) *harness {
	return newHarness(t, harnessOptions{roles: classRoles, model: testModel, seed: testSeed,
		scripts: map[string]string{"DataStore.js": classDataStore, "Employees.js": classEmployees}})
}

func q(s string) string { return url.QueryEscape(s) }

// newSet makes an entity set of the employees filter selects and returns its ID.
func newSet(t *testing.T, c *client, filter string) string {
	t.Helper()
	r := c.get("/rest/Employees?$method=entityset&$filter=" + q(filter))
	wantStatus(t, r, 200, 0)
	uri, _ := r.json(t)["__ENTITYSET"].(string)
	id := uri[strings.LastIndexByte(uri, '/')+1:]
	if len(id) != 32 {
		t.Fatalf("no entity set in %s", r.body)
	}
	return id
}

// TestEntityFunction: POST /rest/DC(key)/fn runs exports.entity.fn with this = the entity.
func TestEntityFunction(t *testing.T) {
	h := classHarness(t)
	c := h.client().as("reader")
	wantBody(t, c.post("/rest/Employees(1)/describe", `["Hi"]`), `{"result":"Hi Ann Archer"}`)
	wantBody(t, c.post("/rest/Employees[3]/describe", `["Yo"]`), `{"result":"Yo Cid Carter"}`)
	wantBody(t, c.post("/rest/Employees:lastName(Carter)/describe", `["Hey"]`), `{"result":"Hey Cid Carter"}`)
	wantStatus(t, c.post("/rest/Employees(99)/describe", `["Hi"]`), 404, 1800)
	// not an entity function: an unknown attribute, as before
	wantStatus(t, c.post("/rest/Employees(1)/raise", `[1]`), 400, 0)
	wantStatus(t, c.get("/rest/Employees(1)/nothing"), 404, 1500)
	// GET only when onHttpGet
	wantStatus(t, c.get("/rest/Employees(1)/describe"), 405, 1829)
	wantBody(t, c.get("/rest/Employees(2)/hello"), `{"result":"hello Bob"}`)
	// a $filter on an entity function is refused, never ignored
	wantStatus(t, c.post("/rest/Employees(1)/describe?$filter="+q(`"ID > 1"`), `["Hi"]`), 400, 1811)
	// results: an entity with __DATACLASS; a selection kept as an entity set
	r := c.post("/rest/Employees(1)/self", ``)
	wantStatus(t, r, 200, 0)
	if o := r.json(t); o["__DATACLASS"] != "Employees" || o["__entityModel"] != "Employees" || o["__KEY"] != "1" || o["salary"] != nil {
		t.Errorf("entity result: %s", r.body)
	}
	r = c.post("/rest/Employees(1)/colleagues", ``)
	wantStatus(t, r, 200, 0)
	o := r.json(t)
	if o["__DATACLASS"] != "Employees" || o["__COUNT"] != float64(2) || !strings.HasPrefix(o["__ENTITYSET"].(string), "/rest/Employees/$entityset/") {
		t.Fatalf("selection result: %s", r.body)
	}
	page := c.get(o["__ENTITYSET"].(string) + "?$skip=1&$top=1")
	wantStatus(t, page, 200, 0)
	if p := page.json(t); p["__SENT"] != float64(1) || p["__FIRST"] != float64(1) {
		t.Errorf("paging the returned set: %s", page.body)
	}
}

// TestEntityFunctionPermissions: a function's own setting, else its dataclass's, else the
// datastore's execute; promote lends privileges for the call only.
func TestEntityFunctionPermissions(t *testing.T) {
	h := classHarness(t)
	reader := h.client().as("reader")
	wantStatus(t, reader.post("/rest/Employees(1)/payroll", ``), 401, 1561)
	// refused before the entity is looked up: no 404 for a missing one either
	wantStatus(t, reader.post("/rest/Employees(99)/payroll", ``), 401, 1561)
	hr := h.client().as("reader,hr")
	wantBody(t, hr.post("/rest/Employees(1)/payroll", ``), `{"result":5000}`)
	wantBody(t, reader.post("/rest/Employees/audit?$filter="+q(`"active = true"`), ``), `{"result":[3,true]}`)
	wantBody(t, reader.post("/rest/$catalog/countOf", `[{"__DATASET":"`+newSet(t, reader, "ID > 2")+`","__ENTITIES":true}]`), `{"result":[2,"Cid",true]}`)
	wantStatus(t, reader.post("/rest/Employees(1)/payroll", ``), 401, 1561) // the promotion did not stay
}

// TestSelectionFunction: POST /rest/DC/fn?$filter=…&$orderby=… and /rest/DC/$entityset/ID/fn
// run exports.selection.fn with this = the selection.
func TestSelectionFunction(t *testing.T) {
	h := classHarness(t)
	c := h.client().as("reader")
	wantBody(t, c.post("/rest/Employees/total", ``), `{"result":18000}`)
	wantBody(t, c.post("/rest/Employees/total?$filter="+q(`"ID > 1"`), ``), `{"result":13000}`)
	wantBody(t, c.post("/rest/Employees/total?$filter="+q(`"ID > :1"`)+"&$params="+q(`[2]`), ``), `{"result":9000}`)
	// filtering on an attribute the caller may not read is refused, as for a list
	wantStatus(t, c.post("/rest/Employees/total?$filter="+q(`"salary > 1"`), ``), 404, 1500)
	wantBody(t, c.post("/rest/Employees/names?$filter="+q(`"active = true"`)+"&$orderby="+q(`"firstName desc"`), ``), `{"result":["Dee","Cid","Ann"]}`)
	wantBody(t, c.post("/rest/Employees/names?$orderby="+q(`"lastName"`), ``), `{"result":["Ann","Bob","Cid","Dee"]}`)
	wantStatus(t, c.post("/rest/Employees/total?$filter="+q(`"ID >"`), ``), 400, 0)
	// a $filter on a dataclass or datastore function is refused, never ignored
	wantStatus(t, c.post("/rest/Employees/raise?$filter="+q(`"ID = 1"`), `[1]`), 400, 1811)
	wantStatus(t, c.post("/rest/$catalog/nameOf?$orderby="+q(`"ID"`), `[]`), 400, 1811)
	wantStatus(t, c.post("/rest/Employees/nothing?$filter="+q(`"ID = 1"`), ``), 404, 0)

	id := newSet(t, c, "ID < 3")
	wantBody(t, c.post("/rest/Employees/$entityset/"+id+"/names", ``), `{"result":["Ann","Bob"]}`)
	wantStatus(t, c.post("/rest/Employees/$entityset/"+id+"/describe", ``), 404, 0)
	wantStatus(t, c.post("/rest/Employees/$entityset/"+id+"/names?$filter="+q(`"ID = 1"`), ``), 400, 1811)
	wantStatus(t, c.post("/rest/Companies/$entityset/"+id+"/names", ``), 404, 0)
	other := h.client().as("reader")
	wantStatus(t, other.post("/rest/Employees/$entityset/"+id+"/names", ``), 404, 1800)

	r := c.post("/rest/Employees/self?$filter="+q(`"ID > 1"`)+"&$orderby="+q(`"ID desc"`), ``)
	wantStatus(t, r, 200, 0)
	o := r.json(t)
	if o["__DATACLASS"] != "Employees" || o["__COUNT"] != float64(3) || o["__ENTITYSET"] == nil {
		t.Fatalf("selection result: %s", r.body)
	}
	if first := o["__ENTITIES"].([]any)[0].(map[string]any); first["__KEY"] != "4" {
		t.Errorf("order of the result: %s", r.body)
	}
}

// TestEntityAndSelectionParameters: 4D's parameter shapes arrive as an entity and a
// selection; a set of another session is not found.
func TestEntityAndSelectionParameters(t *testing.T) {
	h := classHarness(t)
	c := h.client().as("reader")
	wantBody(t, c.post("/rest/$catalog/nameOf", `[{"__DATACLASS":"Employees","__ENTITY":true,"__KEY":2}]`), `{"result":"Bob/undefined"}`)
	wantBody(t, c.post("/rest/$catalog/nameOf", `[{"__DATACLASS":"Employees","__ENTITY":true,"__KEY":"3"}]`), `{"result":"Cid/undefined"}`)
	wantStatus(t, c.post("/rest/$catalog/nameOf", `[{"__DATACLASS":"Employees","__ENTITY":true,"__KEY":99}]`), 404, 1800)
	wantStatus(t, c.post("/rest/$catalog/nameOf", `[{"__DATACLASS":"Audit","__ENTITY":true,"__KEY":1}]`), 404, 1800)
	id := newSet(t, c, "ID > 1")
	wantBody(t, c.post("/rest/$catalog/countOf", `[{"__DATASET":"`+id+`","__ENTITIES":true}]`), `{"result":[3,"Bob",true]}`)
	wantBody(t, c.post("/rest/$catalog/countOf", `[{"__DATASET":"/rest/Employees/$entityset/`+id+`","__ENTITIES":true}]`), `{"result":[3,"Bob",true]}`)
	other := h.client().as("reader")
	wantStatus(t, other.post("/rest/$catalog/countOf", `[{"__DATASET":"`+id+`","__ENTITIES":true}]`), 404, 1800)
	// in an entity function too
	wantBody(t, c.post("/rest/Employees(1)/describe", `[{"__DATACLASS":"Employees","__ENTITY":true,"__KEY":2}]`), `{"result":"[object Object] Ann Archer"}`)
}

// TestCatalogClassFunctions: $catalog lists each function with its applyTo and a boolean
// allowedOnHTTPGET.
func TestCatalogClassFunctions(t *testing.T) {
	h := classHarness(t)
	r := h.client().get("/rest/$catalog/Employees")
	wantStatus(t, r, 200, 0)
	got := map[string]string{}
	for _, m := range r.json(t)["methods"].([]any) {
		m := m.(map[string]any)
		get, ok := m["allowedOnHTTPGET"].(bool)
		if !ok {
			t.Fatalf("allowedOnHTTPGET is not a boolean: %s", r.body)
		}
		key := m["applyTo"].(string) + "." + m["name"].(string)
		got[key] = map[bool]string{true: "get", false: "post"}[get]
	}
	want := map[string]string{"dataClass.raise": "post", "entity.describe": "post", "entity.payroll": "post",
		"entity.colleagues": "post", "entity.self": "post", "entity.hello": "get",
		"entityCollection.total": "post", "entityCollection.names": "post", "entityCollection.audit": "post", "entityCollection.self": "post"}
	if len(got) != len(want) {
		t.Fatalf("methods %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("method %s: %q, want %q (%v)", k, got[k], v, got)
		}
	}
}
