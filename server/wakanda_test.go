package server

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// wakandaModel and wakandaSeed are the app the real client runs against: 2 companies, 25
// employees (salary 1 100 … 3 500 by steps of 100; the odd ones work for company 1).
const wakandaModel = `{"dataClasses":[
 {"name":"Companies","attributes":[
   {"name":"ID","type":"long","primaryKey":true,"autoincrement":true},
   {"name":"name","type":"string"},
   {"name":"staff","kind":"relatedEntities","path":"employer"}]},
 {"name":"Employees","attributes":[
   {"name":"ID","type":"long","primaryKey":true,"autoincrement":true},
   {"name":"firstName","type":"string"},
   {"name":"lastName","type":"string"},
   {"name":"salary","type":"number"},
   {"name":"employer","kind":"relatedEntity","type":"Companies"}]}]}`

func wakandaSeed() string {
	var emps []string
	for i := 1; i <= 25; i++ {
		emps = append(emps, fmt.Sprintf(`{"ID":%d,"firstName":"First%d","lastName":"Name%d","salary":%d,"employer":%d}`,
			i, i, i, 1000+100*i, 2-i%2))
	}
	return `{"Companies":[{"ID":1,"name":"Acme"},{"ID":2,"name":"Bolt"}],"Employees":[` + strings.Join(emps, ",") + `]}`
}

const wakandaAuth = `module.exports = function (user, password) {
  if (user === "admin" && password === "secret") { Session.setPrivileges("admin"); return true; }
  return false;
};`

const wakandaEmployees = `exports.highPaid = function () {
  return ds.Employees.query("salary > :1", 1500).orderBy("salary desc");
};`

// TestWakandaClient drives the npm package wakanda-client 3.1.0, a real third-party client
// of 4D's REST protocol, against a whole server: login, catalog, query (filter,
// placeholders, @ wildcard, order, page size), nextPage / prevPage / more, find, change and
// save, a stale save rejected, recompute persisting nothing, a related 1→N fetch with
// paging, a function returning a collection and paging it, create and delete
// (testdata/wakanda/e2e.js). The client is installed from the lock file by `npm ci` in
// testdata/wakanda (.ci/run does it); without it the test skips, unless CI is set.
func TestWakandaClient(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("testdata", "wakanda"))
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	_, statErr := os.Stat(filepath.Join(dir, "node_modules", "wakanda-client", "package.json"))
	if err != nil || statErr != nil {
		msg := "wakanda-client is not installed: run `npm ci` in server/testdata/wakanda (needs Node and npm)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	e := start(t, app(t, map[string]string{
		"model.json":                      wakandaModel,
		"seed.json":                       wakandaSeed(),
		"scripts/onRESTAuthentication.js": wakandaAuth,
		"scripts/Employees.js":            wakandaEmployees,
	}), Config{})
	cmd := exec.CommandContext(t.Context(), node, "e2e.js", e.http.URL)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	t.Logf("wakanda-client:\n%s", out)
	if err != nil {
		t.Fatalf("e2e.js: %v", err)
	}
	if !strings.Contains(string(out), "ok logout") {
		t.Fatal("e2e.js stopped before its last step")
	}
}
