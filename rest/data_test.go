package rest

import (
	"net/url"
	"strings"
	"testing"
)

const testModel = `{"dataClasses":[
 {"name":"Companies","attributes":[
   {"name":"ID","type":"long","primaryKey":true,"autoincrement":true},
   {"name":"name","type":"string","indexed":true},
   {"name":"city","type":"string"},
   {"name":"employees","kind":"relatedEntities","path":"employer"}]},
 {"name":"Employees","attributes":[
   {"name":"ID","type":"long","primaryKey":true,"autoincrement":true},
   {"name":"firstName","type":"string"},
   {"name":"lastName","type":"string","indexed":true},
   {"name":"salary","type":"number"},
   {"name":"password","type":"string"},
   {"name":"active","type":"bool"},
   {"name":"hired","type":"date"},
   {"name":"secretNote","type":"string","exposed":false},
   {"name":"employer","kind":"relatedEntity","type":"Companies"}]},
 {"name":"Audit","exposed":false,"attributes":[{"name":"ID","type":"long","primaryKey":true,"autoincrement":true}]}
]}`

const testSeed = `{
 "Companies":[{"ID":1,"name":"Acme","city":"Paris"},{"ID":2,"name":"Bolt","city":"Lyon"}],
 "Employees":[
  {"ID":1,"firstName":"Ann","lastName":"Archer","salary":5000,"password":"h1","active":true,"hired":"2020-01-02","employer":1},
  {"ID":2,"firstName":"Bob","lastName":"baker","salary":4000,"password":"h2","active":false,"hired":"2021-03-04","employer":1},
  {"ID":3,"firstName":"Cid","lastName":"Carter","salary":6000,"password":"h3","active":true,"hired":"2019-05-06","employer":2},
  {"ID":4,"firstName":"Dee","lastName":"O'Brien","salary":3000,"password":"h4","active":true,"employer":null}
 ]}`

const dataRoles = `{
 "privileges":[{"privilege":"reader"},{"privilege":"editor","includes":["reader"]},{"privilege":"hr"},
   {"privilege":"admin","includes":["editor","hr"]}],
 "permissions":{"allowed":[
   {"applyTo":"ds","type":"datastore","read":["reader"]},
   {"applyTo":"Employees","type":"dataclass","read":["reader"],"create":["editor"],"update":["editor"],"drop":["admin"]},
   {"applyTo":"Employees.salary","type":"attribute","read":["hr"],"update":["hr"]},
   {"applyTo":"Employees.password","type":"attribute","read":[]},
   {"applyTo":"Companies","type":"dataclass","read":["guest"]},
   {"applyTo":"Employees.raise","type":"method","execute":["hr"]}
 ]}
}`

// grantScript lets a test give its session privileges: POST /rest/$catalog/as ["a,b"].
const grantScript = `exports.as = function (p) { return Session.setPrivileges(p); };`

const employeesScript = `
exports.raise = function (pct) { return "raised " + pct; };
exports.best = function () { return ds.Employees.query("salary > :1", 4500).orderBy("salary desc"); };
exports.one = function () { return ds.Employees.get(1); };
exports.nested = function () { return { list: [ds.Employees.get(1)], sel: ds.Employees.query("ID = 2") }; };
`

func dataHarness(t *testing.T, roles string) *harness {
	return newHarness(t, harnessOptions{roles: roles, model: testModel, seed: testSeed,
		scripts: map[string]string{"DataStore.js": grantScript, "Employees.js": employeesScript}})
}

func (c *client) as(privileges string) *client {
	c.h.t.Helper()
	if privileges != "" {
		wantBody(c.h.t, c.post("/rest/$catalog/as", `["`+privileges+`"]`), `{"result":true}`)
	}
	return c
}

// TestPermissionScenarios checks each action and resource level, allowed and refused.
func TestPermissionScenarios(t *testing.T) {
	tests := []struct {
		name, privileges, method, path, body string
		status, code                         int
		has, lacks                           []string
	}{
		{"GuestCannotReadDatastoreLevel", "", "GET", "/rest/Employees", "", 401, 1902, nil, nil},
		{"DataClassOverridesDatastore", "", "GET", "/rest/Companies", "", 200, 0, []string{`"Acme"`}, nil},
		{"ReaderSeesNoSalaryNorPassword", "reader", "GET", "/rest/Employees", "", 200, 0, []string{`"firstName":"Ann"`}, []string{"salary", "password", "secretNote"}},
		{"AttributeAddsToDataClass", "hr", "GET", "/rest/Employees", "", 401, 1902, nil, nil},
		{"HRReaderSeesSalary", "reader,hr", "GET", "/rest/Employees(1)", "", 200, 0, []string{`"salary":5000`}, []string{"password"}},
		{"UnreadableAttributeOmittedFromSingleEntity", "reader", "GET", "/rest/Employees(1)", "", 200, 0, []string{`"__KEY":"1"`}, []string{"salary"}},
		{"UnreadableAttributePath", "reader", "GET", "/rest/Employees(1)/salary", "", 404, 1500, nil, nil},
		{"FilterOnUnreadableAttributeIsUnknown", "reader", "GET", "/rest/Employees?$filter=" + url.QueryEscape(`"salary > 1"`), "", 404, 1500, nil, nil},
		{"FilterOnReadableAttribute", "reader,hr", "GET", "/rest/Employees?$filter=" + url.QueryEscape(`"salary > 4500"`), "", 200, 0, []string{`"__COUNT":2`}, nil},
		{"ReaderCannotCreate", "reader", "POST", "/rest/Employees?$method=update", `{"firstName":"Eve"}`, 401, 1903, nil, nil},
		{"EditorCreates", "editor", "POST", "/rest/Employees?$method=update", `{"firstName":"Eve","employer":{"__KEY":"2"}}`, 200, 0, []string{`"firstName":"Eve"`, `"__STAMP":1`}, []string{"salary"}},
		{"EditorCannotUpdateSalary", "editor", "POST", "/rest/Employees?$method=update", `{"__KEY":"1","__STAMP":1,"salary":1}`, 401, 1558, nil, nil},
		{"EditorUpdatesName", "editor", "POST", "/rest/Employees?$method=update", `{"__KEY":"1","__STAMP":1,"firstName":"Anne"}`, 200, 0, []string{`"firstName":"Anne"`, `"__STAMP":2`}, nil},
		{"AdminUpdatesSalary", "admin", "POST", "/rest/Employees?$method=update", `{"__KEY":"1","__STAMP":1,"salary":7000}`, 200, 0, []string{`"salary":7000`}, nil},
		{"EditorCannotDrop", "editor", "POST", "/rest/Employees(2)?$method=delete", "", 401, 1904, nil, nil},
		{"AdminDrops", "admin", "POST", "/rest/Employees(2)?$method=delete", "", 200, 0, []string{`{"ok":true}`}, nil},
		{"ReaderCannotExecute", "reader", "POST", "/rest/Employees/raise", `[5]`, 401, 1561, nil, nil},
		{"HRExecutes", "reader,hr", "POST", "/rest/Employees/raise", `[5]`, 200, 0, []string{`{"result":"raised 5"}`}, nil},
		{"FunctionResultsOmitUnreadable", "reader", "POST", "/rest/Employees/one", ``, 200, 0, []string{`"__entityModel":"Employees"`, `"firstName":"Ann"`}, []string{"salary", "password"}},
		{"NestedResultsOmitUnreadable", "reader", "POST", "/rest/Employees/nested", ``, 200, 0, []string{`"firstName":"Ann"`, `"firstName":"Bob"`}, []string{"salary", "password", "h1"}},
		{"FunctionSelectionResult", "reader,hr", "POST", "/rest/Employees/best", ``, 200, 0, []string{`"__COUNT":2`, `"__KEY":"3"`}, []string{"password"}},
		{"ExpansionOmitsUnreadable", "reader", "GET", "/rest/Companies(1)?$expand=employees", "", 200, 0, []string{`"lastName":"Archer"`}, []string{"salary"}},
		{"HiddenDataClass", "admin", "GET", "/rest/Audit", "", 404, 1800, nil, nil},
		{"NonExposedAttributeUnknown", "admin", "GET", "/rest/Employees(1)/secretNote", "", 404, 1500, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := dataHarness(t, dataRoles)
			c := h.client().as(tt.privileges)
			r := c.do(tt.method, tt.path, nil, tt.body)
			wantStatus(t, r, tt.status, tt.code)
			for _, s := range tt.has {
				if !strings.Contains(string(r.body), s) {
					t.Errorf("answer lacks %s: %s", s, r.body)
				}
			}
			for _, s := range tt.lacks {
				if strings.Contains(string(r.body), s) {
					t.Errorf("answer shows %s: %s", s, r.body)
				}
			}
		})
	}
}

func TestRestrictedByDefault(t *testing.T) {
	restricted := `{"privileges":[{"privilege":"reader"}],
	 "permissions":{"allowed":[{"applyTo":"Employees","type":"dataclass","read":["reader"]},
	   {"applyTo":"ds.as","type":"method","execute":["guest"]}]},
	 "restrictedByDefault": true}`
	h := dataHarness(t, restricted)
	c := h.client().as("reader")
	wantStatus(t, c.get("/rest/Companies"), 401, 1902)
	wantStatus(t, c.get("/rest/Employees"), 200, 0)
	wantStatus(t, c.post("/rest/Employees?$method=update", `{"firstName":"x"}`), 401, 1903)
	wantStatus(t, c.post("/rest/Employees/raise", `[1]`), 401, 1561)
}

func TestDataRequests(t *testing.T) {
	h := dataHarness(t, "")
	c := h.client()
	q := func(s string) string { return url.QueryEscape(s) }
	tests := []struct {
		name, path string
		status     int
		code       int
		has        []string
	}{
		{"ListShape", "/rest/Employees", 200, 0, []string{`"__entityModel":"Employees","__COUNT":4,"__SENT":4,"__FIRST":0,"__ENTITIES":[{"__KEY":"1","__TIMESTAMP":"2026-03-04T05:06:07.000Z","__STAMP":1,"ID":1,"firstName":"Ann"`}},
		{"DeferredRelations", "/rest/Employees(1)", 200, 0, []string{`"employer":{"__deferred":{"uri":"/rest/Companies(1)","__KEY":"1"}}`, `"hired":"2020-01-02T00:00:00.000Z"`}},
		{"NullRelation", "/rest/Employees(4)", 200, 0, []string{`"employer":null`}},
		{"DeferredOneToMany", "/rest/Companies(1)", 200, 0, []string{`"employees":{"__deferred":{"uri":"/rest/Companies(1)/employees?$expand=employees"}}`}},
		{"TopSkipOrder", "/rest/Employees?$orderby=" + q(`"salary desc"`) + "&$top=2&$skip=1", 200, 0, []string{`"__COUNT":4,"__SENT":2,"__FIRST":1`, `"__KEY":"1"`}},
		{"LimitAlias", "/rest/Employees?$limit=1", 200, 0, []string{`"__SENT":1`}},
		{"FilterWithParams", "/rest/Employees?$filter=" + q(`"lastName = :1"`) + "&$params=" + q(`'["BAKER"]'`), 200, 0, []string{`"__COUNT":1`, `"firstName":"Bob"`}},
		{"FilterWildcard", "/rest/Employees?$filter=" + q(`lastName = 'c@'`), 200, 0, []string{`"__COUNT":1`}},
		{"FilterRelationPath", "/rest/Employees?$filter=" + q(`employer.name = 'acme' AND active = true`), 200, 0, []string{`"__COUNT":1`}},
		{"Attributes", "/rest/Employees(1)?$attributes=firstName,employer.name", 200, 0, []string{`"firstName":"Ann","employer":{"__KEY":"1","__TIMESTAMP":"2026-03-04T05:06:07.000Z","__STAMP":1,"name":"Acme"}}`}},
		{"ExpandManyToOne", "/rest/Employees(3)?$expand=employer", 200, 0, []string{`"employer":{"__KEY":"2"`, `"city":"Lyon"`}},
		{"ExpandOneToMany", "/rest/Companies(1)?$expand=employees", 200, 0, []string{`"employees":{"__ENTITYSET":"/rest/Employees/$entityset/`, `,"__COUNT":2,"__SENT":2,"__FIRST":0,"__ENTITIES":[`}},
		{"AttributeValue", "/rest/Employees(2)/firstName", 200, 0, []string{`{"firstName":"Bob"}`}},
		{"RelatedEntityPath", "/rest/Employees(2)/employer", 200, 0, []string{`"__entityModel":"Companies","__KEY":"1"`}},
		{"RelatedSelectionPath", "/rest/Companies(1)/employees?$orderby=firstName%20desc", 200, 0, []string{`"__entityModel":"Employees","__COUNT":2`, `"firstName":"Bob"`}},
		{"QuotedKey", `/rest/Employees("2")`, 200, 0, []string{`"firstName":"Bob"`}},
		{"EntityNotFound", "/rest/Employees(99)", 404, 1800, nil},
		{"BadKey", "/rest/Employees(abc)", 404, 1800, nil},
		{"UnknownDataClass", "/rest/Nobody", 404, 1800, nil},
		{"UnknownAttributeInFilter", "/rest/Employees?$filter=" + q(`nope = 1`), 404, 1500, nil},
		{"BadFilterSyntax", "/rest/Employees?$filter=" + q(`firstName = `), 400, 1162, nil},
		{"MissingPlaceholder", "/rest/Employees?$filter=" + q(`firstName = :2`) + "&$params=" + q(`["x"]`), 400, 1279, nil},
		{"WrongPlaceholderType", "/rest/Employees?$filter=" + q(`salary > :1`) + "&$params=" + q(`[{"a":1}]`), 400, 1280, nil},
		{"ParamsNotJSON", "/rest/Employees?$filter=" + q(`firstName = :1`) + "&$params=" + q(`[x`), 400, 1280, nil},
		{"BadTop", "/rest/Employees?$top=-1", 400, 1806, nil},
		{"UnknownMethod", "/rest/Employees?$method=explode", 400, 1812, nil},
		{"UnknownKeywordInPath", "/rest/Employees/$entityset", 400, 1811, nil},
		{"MalformedPath", "/rest/Employees(1", 400, 1806, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.get(tt.path)
			wantStatus(t, r, tt.status, tt.code)
			for _, s := range tt.has {
				if !strings.Contains(string(r.body), s) {
					t.Errorf("answer lacks %s:\n%s", s, r.body)
				}
			}
		})
	}
}

func TestUpdateStampsAndBatches(t *testing.T) {
	h := dataHarness(t, "")
	c := h.client()
	wantStatus(t, c.post("/rest/Employees?$method=update", `{"__KEY":"1","__STAMP":1,"firstName":"A2"}`), 200, 0)
	r := c.post("/rest/Employees?$method=update", `{"__KEY":"1","__STAMP":1,"firstName":"A3"}`)
	wantStatus(t, r, 409, 1263)
	// An atomic batch with one bad entity saves nothing.
	wantStatus(t, c.post("/rest/Employees?$method=update&$atomic=true", `[{"firstName":"New1"},{"__KEY":"2","__STAMP":7,"firstName":"x"}]`), 409, 1263)
	if r := c.get("/rest/Employees?$filter=" + url.QueryEscape(`firstName = 'New1'`)); !strings.Contains(string(r.body), `"__COUNT":0`) {
		t.Fatalf("a failed batch left an entity: %s", r.body)
	}
	r = c.post("/rest/Employees?$method=update", `[{"firstName":"New1"},{"__KEY":"2","__STAMP":1,"firstName":"B2"}]`)
	wantStatus(t, r, 200, 0)
	if !strings.Contains(string(r.body), `"__COUNT":2`) || !strings.Contains(string(r.body), `"firstName":"B2"`) {
		t.Fatalf("batch answer: %s", r.body)
	}
	for name, body := range map[string]string{
		"WrongType":        `{"salary":"lots"}`,
		"UnknownAttribute": `{"nope":1}`,
		"KeyChanged":       `{"__KEY":"1","ID":7,"firstName":"x"}`,
		"NotAnObject":      `"x"`,
		"EmptyArray":       `[]`,
	} {
		t.Run(name, func(t *testing.T) {
			r := c.post("/rest/Employees?$method=update", body)
			if r.status < 400 || r.status >= 500 {
				t.Fatalf("%s: got %d %s", name, r.status, r.body)
			}
		})
	}
	wantStatus(t, c.post("/rest/Companies?$method=update", `{"__KEY":"1","__STAMP":1,"employees":[]}`), 400, 1905)
	// Delete by filter.
	wantBody(t, c.post("/rest/Employees?$filter="+url.QueryEscape(`active = false`)+"&$method=delete", ""), `{"ok":true}`)
	if r := c.get("/rest/Employees(2)"); r.status != 404 {
		t.Fatalf("deleted entity still there: %d", r.status)
	}
	wantStatus(t, c.post("/rest/Employees?$method=delete", ""), 400, 1806)
}

// TestInjection sends hostile filters and params: they never change the SQL's meaning.
func TestInjection(t *testing.T) {
	h := dataHarness(t, "")
	c := h.client()
	hostile := []string{`x' OR 1=1 --`, `"; DROP TABLE Employees; --`, `') OR ('a'='a`, `*/ OR 1=1 /*`, `%`, `_`, `@`}
	for _, p := range hostile {
		params, _ := jsonString([]string{p})
		r := c.get("/rest/Employees?$filter=" + url.QueryEscape(`lastName = :1`) + "&$params=" + url.QueryEscape(params))
		wantStatus(t, r, 200, 0)
		want := `"__COUNT":0`
		if p == "@" {
			want = `"__COUNT":4` // @ alone is the wildcard: every name
		}
		if !strings.Contains(string(r.body), want) {
			t.Errorf("param %q: %s", p, r.body)
		}
	}
	for _, f := range []string{`lastName = 'x'; DROP TABLE Employees`, `lastName = 'x' -- '`, `1=1`, `lastName = x' OR '1'='1`} {
		r := c.get("/rest/Employees?$filter=" + url.QueryEscape(f))
		if r.status == 200 && !strings.Contains(string(r.body), `"__COUNT":0`) {
			t.Errorf("filter %q matched: %s", f, r.body)
		}
	}
	// The apostrophe in a real name is data, not syntax.
	params, _ := jsonString([]string{"O'Brien"})
	r := c.get("/rest/Employees?$filter=" + url.QueryEscape(`lastName = :1`) + "&$params=" + url.QueryEscape(params))
	if !strings.Contains(string(r.body), `"__COUNT":1`) {
		t.Errorf("O'Brien: %s", r.body)
	}
	if r := c.get("/rest/Employees"); !strings.Contains(string(r.body), `"__COUNT":4`) {
		t.Fatalf("table damaged: %s", r.body)
	}
}

func TestCatalog(t *testing.T) {
	h := dataHarness(t, dataRoles)
	c := h.client()
	wantBody(t, c.get("/rest/$catalog"), `{"dataClasses":[{"name":"Companies","uri":"/rest/$catalog/Companies","dataURI":"/rest/Companies"},{"name":"Employees","uri":"/rest/$catalog/Employees","dataURI":"/rest/Employees"}],"singletons":[]}`)
	r := c.as("reader").get("/rest/$catalog/Employees")
	wantStatus(t, r, 200, 0)
	body := string(r.body)
	for _, want := range []string{`"name":"Employees","className":"Employees","collectionName":"EmployeesSelection"`,
		`{"name":"ID","kind":"storage","type":"long","scope":"public","identifying":true`,
		`{"name":"employer","kind":"relatedEntity","type":"Companies","scope":"public","path":"Companies"}`,
		`"key":[{"name":"ID"}]`, `"methods":[{"name":"best"`} {
		if !strings.Contains(body, want) {
			t.Errorf("description lacks %s:\n%s", want, body)
		}
	}
	for _, hidden := range []string{"salary", "password", "secretNote"} {
		if strings.Contains(body, hidden) {
			t.Errorf("description shows %s", hidden)
		}
	}
	all := string(c.get("/rest/$catalog/$all").body)
	if !strings.Contains(all, `"collectionName":"CompaniesSelection"`) || strings.Contains(all, "Audit") {
		t.Errorf("$all: %s", all)
	}
	wantStatus(t, c.get("/rest/$catalog/Audit"), 404, 1800)
}

func jsonString(v any) (string, error) {
	b, err := jsonMarshal(v)
	return string(b), err
}

func TestAttributesRestrictExpansion(t *testing.T) {
	h := dataHarness(t, "")
	c := h.client()
	r := c.get("/rest/Companies(1)?$expand=employees&$attributes=name,employees.firstName")
	r.body = setURIRe.ReplaceAll(r.body, []byte(`"__ENTITYSET":"SET"`))
	want := `{"__entityModel":"Companies","__KEY":"1","__TIMESTAMP":"2026-03-04T05:06:07.000Z","__STAMP":1,"name":"Acme","employees":{"__ENTITYSET":"SET","__COUNT":2,"__SENT":2,"__FIRST":0,"__ENTITIES":[{"__KEY":"1","__TIMESTAMP":"2026-03-04T05:06:07.000Z","__STAMP":1,"firstName":"Ann"},{"__KEY":"2","__TIMESTAMP":"2026-03-04T05:06:07.000Z","__STAMP":1,"firstName":"Bob"}]}}`
	wantBody(t, r, want)
	// Text is not HTML-escaped (4D does not escape & < >).
	c.post("/rest/Companies?$method=update", `{"__KEY":"2","__STAMP":1,"name":"Bolt & <Nut>"}`)
	if r := c.get("/rest/Companies(2)"); !strings.Contains(string(r.body), `"name":"Bolt & <Nut>"`) {
		t.Fatalf("escaped: %s", r.body)
	}
}
