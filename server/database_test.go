package server

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gatehouse/internal/pgtest"
	"gatehouse/internal/redistest"
	"gatehouse/internal/testkit"
)

// TestMain runs the package's tests on SQLite, then the PostgreSQL cluster tests against a
// throwaway PostgreSQL (pgtest).
func TestMain(m *testing.M) {
	os.Exit(pgtest.Main(m, "^(TestTwoInstancesShareOnePostgres|TestDemoAppSameAnswersOnBothBackends|TestUploadOnOneInstanceAssignOnAnother)$"))
}

// rest sends one request and decodes its JSON answer.
func restCall(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("%s %s: %d %s: %v", method, url, res.StatusCode, data, err)
	}
	return res.StatusCode, out
}

// TestTwoInstancesShareOnePostgres runs two servers (two app folders, as on two machines) on
// one PostgreSQL database: the seed is loaded once, an entity saved through one is read
// through the other, and a stamp gone stale through one instance is refused by the other.
func TestTwoInstancesShareOnePostgres(t *testing.T) {
	if !pgtest.Active() {
		t.Skip("runs in the PostgreSQL pass")
	}
	url := pgtest.NewDatabase(t)
	files := map[string]string{"model.json": salesModel,
		"seed.json": `{"SalesPersons":[{"ID":1,"email":"ann@example.com","age":40}]}`}
	a := start(t, app(t, files), Config{Database: url})
	b := start(t, app(t, files), Config{Database: url})
	if _, err := os.Stat(filepath.Join(a.dir, "data", "gatehouse.db")); err == nil {
		t.Fatal("a SQLite file was created although --database names PostgreSQL")
	}
	testkit.Run(t, b.http.URL, []testkit.Scenario{
		{Name: "SeededOnce", Path: "/rest/SalesPersons", Status: 200, Want: []string{`"__COUNT":1`, `"ann@example.com"`}},
	})

	status, saved := restCall(t, "POST", a.http.URL+"/rest/SalesPersons?$method=update", `{"email":"bob@example.com","age":30}`)
	if status != 200 {
		t.Fatalf("create through A: %d %v", status, saved)
	}
	key, stamp := saved["__KEY"].(string), saved["__STAMP"]
	if key != "2" { // the identity moved past the seeded key 1
		t.Fatalf("created key %q, want 2", key)
	}
	status, got := restCall(t, "GET", b.http.URL+"/rest/SalesPersons("+key+")", "")
	if status != 200 || got["email"] != "bob@example.com" {
		t.Fatalf("read through B: %d %v", status, got)
	}
	upd := func(stamp any, age int) string {
		body, _ := json.Marshal(map[string]any{"__KEY": key, "__STAMP": stamp, "age": age})
		return string(body)
	}
	if status, got = restCall(t, "POST", b.http.URL+"/rest/SalesPersons?$method=update", upd(stamp, 31)); status != 200 {
		t.Fatalf("update through B: %d %v", status, got)
	}
	status, got = restCall(t, "POST", a.http.URL+"/rest/SalesPersons?$method=update", upd(stamp, 32))
	if status != 409 {
		t.Fatalf("update through A with the stamp B made stale: %d %v; want 409", status, got)
	}
	testkit.Run(t, a.http.URL, []testkit.Scenario{
		{Name: "BsSaveWins", Path: "/rest/SalesPersons(2)", Status: 200, Want: []string{`"age":31`, `"__STAMP":2`}},
		{Name: "QueryAcrossInstances", Path: "/rest/SalesPersons?$filter=email='BOB@@'&$orderby=age%20desc", Status: 200,
			Want: []string{`"__COUNT":1`, `"bob@example.com"`}},
	})
}

// TestDatabaseConfig: --database names a SQLite file relative to the app folder.
func TestDatabaseConfig(t *testing.T) {
	pgtest.SQLiteOnly(t, "a file")
	dir := app(t, map[string]string{"model.json": salesModel, "seed.json": `{"SalesPersons":[{"ID":1,"email":"a"}]}`})
	e := start(t, dir, Config{Database: "elsewhere/app.db"})
	testkit.Run(t, e.http.URL, []testkit.Scenario{{Name: "Seeded", Path: "/rest/SalesPersons", Status: 200, Want: []string{`"__COUNT":1`}}})
	if _, err := os.Stat(filepath.Join(dir, "elsewhere", "app.db")); err != nil {
		t.Fatalf("the database is not where --database says: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "gatehouse.db")); err == nil {
		t.Fatal("the default database was created too")
	}
}

// demoApp copies the repository's demo app (model, roles, seed, scripts) to a new folder.
func demoApp(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	root := ".."
	for _, name := range []string{"model.json", "roles.json", "seed.json", "scripts"} {
		err := filepath.WalkDir(filepath.Join(root, name), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

var (
	timestamps = regexp.MustCompile(`"__TIMESTAMP":"[^"]*"`)
	// Entity set IDs are random: two servers answer different ones for the same set.
	entitySetIDs = regexp.MustCompile(`/\$entityset/[0-9A-F]{32}`)
)

// TestDemoAppSameAnswersOnBothBackends serves the demo app from SQLite and from PostgreSQL and
// sends both the README's data walkthrough and queries that exercise folding, '@', '%',
// begin, IN, null order and relation paths: every answer is the same, timestamps aside.
func TestDemoAppSameAnswersOnBothBackends(t *testing.T) {
	if !pgtest.Active() {
		t.Skip("runs in the PostgreSQL pass")
	}
	sqlite := start(t, demoApp(t), Config{})
	pg := start(t, demoApp(t), Config{Database: pgtest.NewDatabase(t)})
	type step struct{ method, path, body string }
	q := func(filter, order string) string {
		return "/rest/Customers?$filter=" + urlQuery(filter) + "&$orderby=" + urlQuery(order) + "&$attributes=name,city,totalPurchase"
	}
	steps := []step{
		{"GET", q("totalPurchase > :1", "totalPurchase desc") + "&$params=" + urlQuery("[50000]"), ""},
		{"GET", "/rest/SalesPersons(1)", ""},
		{"GET", "/rest/SalesPersons(1)?$expand=customers&$attributes=firstname,customers.name", ""},
		{"POST", "/rest/Customers?$method=update", `{"__KEY":"4","__STAMP":1,"totalPurchase":3500}`},
		{"POST", "/rest/Customers?$method=update", `{"__KEY":"4","__STAMP":1,"totalPurchase":9999}`},
		{"POST", "/rest/SalesPersons/myCustomers", ""},
		{"GET", q("name = 'A@' OR city begin 'RO'", "city desc, name"), ""},
		{"GET", q("name % 'nut'", "name"), ""},
		{"GET", q("name % 'n@'", "name"), ""},
		{"GET", q("name IN ['ACME', 'flux', 'c@']", "name desc"), ""},
		{"GET", q("salesPerson.email = 'ANN@@' AND NOT(city = 'paris')", "salesPerson.lastname, totalPurchase"), ""},
		{"GET", q("name > 'c'", "name desc") + "&$top=2&$skip=1", ""},
		{"GET", q("name === 'acme'", ""), ""},
		{"GET", q("city = null", ""), ""},
	}
	login := func(base string) *http.Client {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar}
		req, _ := http.NewRequestWithContext(t.Context(), "POST", base+"/rest/$directory/login", nil)
		req.Header.Set("username-4D", "ann@example.com")
		req.Header.Set("password-4D", "sales-secret")
		res, err := c.Do(req)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("login: %v %v", res, err)
		}
		res.Body.Close()
		return c
	}
	cs, cp := login(sqlite.http.URL), login(pg.http.URL)
	call := func(c *http.Client, base string, s step) string {
		req, _ := http.NewRequestWithContext(t.Context(), s.method, base+s.path, strings.NewReader(s.body))
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		data, _ := io.ReadAll(res.Body)
		text := timestamps.ReplaceAllString(string(data), `"__TIMESTAMP":"…"`)
		return res.Status + " " + entitySetIDs.ReplaceAllString(text, "/$$entityset/…")
	}
	for _, s := range steps {
		a, b := call(cs, sqlite.http.URL, s), call(cp, pg.http.URL, s)
		if a != b {
			t.Errorf("%s %s:\nSQLite:     %s\nPostgreSQL: %s", s.method, s.path, a, b)
		} else if !strings.HasPrefix(a, "200") && !strings.HasPrefix(a, "409") {
			t.Errorf("%s %s: %s", s.method, s.path, a)
		}
	}
}

func urlQuery(s string) string {
	return strings.NewReplacer("%", "%25", " ", "%20", "'", "%27", "&", "%26", "#", "%23", "+", "%2B", "[", "%5B", "]", "%5D").Replace(s)
}

// TestUploadOnOneInstanceAssignOnAnother: a cluster (one Redis for sessions, one PostgreSQL
// for data) keeps pending uploads in the database, so a client whose next request reaches
// another instance assigns, and reads back, what it uploaded through the first.
func TestUploadOnOneInstanceAssignOnAnother(t *testing.T) {
	if !pgtest.Active() {
		t.Skip("runs in the PostgreSQL pass")
	}
	rds := redistest.Start(t)
	db := pgtest.NewDatabase(t)
	files := map[string]string{
		"model.json": `{"dataClasses":[{"name":"Docs","attributes":[
			{"name":"ID","type":"long","primaryKey":true,"autoincrement":true},
			{"name":"title","type":"string"},{"name":"file","type":"blob"}]}]}`,
		"seed.json": `{"Docs":[{"ID":1,"title":"one"}]}`,
	}
	a := start(t, app(t, files), Config{Database: db, Store: rds.URL(), StoreNamespace: "uploads"})
	b := start(t, app(t, files), Config{Database: db, Store: rds.URL(), StoreNamespace: "uploads"})
	ca, cb := testkit.NewClient(t, a.http.URL), testkit.NewClient(t, b.http.URL)
	cb.Jar, cb.HTTP.Jar = ca.Jar, ca.Jar // one browser, its requests balanced over a and b

	data := make([]byte, 300_000)
	for i := range data {
		data[i] = byte(i * 7 % 251) // zero bytes included
	}
	up := ca.Do("POST", "/rest/$upload?$binary=true", map[string]string{"Content-Type": "application/octet-stream"}, string(data))
	id, _ := up.JSON(t)["ID"].(string)
	if up.Status != 200 || len(id) != 32 {
		t.Fatalf("upload through A: %d %s", up.Status, up.Body)
	}
	if r := cb.Do("POST", "/rest/Docs?$method=update", nil, `{"__KEY":"1","file":{"ID":"`+id+`"}}`); r.Status != 200 {
		t.Fatalf("assign through B: %d %s", r.Status, r.Body)
	}
	if r := ca.Do("GET", "/rest/Docs(1)/file?$binary=true&$expand=file", nil, ""); r.Status != 200 || !bytes.Equal(r.Body, data) {
		t.Fatalf("read through A: %d, %d bytes, want the %d uploaded", r.Status, len(r.Body), len(data))
	}
	// Used once, on whichever instance.
	if r := ca.Do("POST", "/rest/Docs?$method=update", nil, `{"__KEY":"1","file":{"ID":"`+id+`"}}`); r.Status != 400 {
		t.Fatalf("the upload assigned again through A: %d %s", r.Status, r.Body)
	}
}
