package main

import (
	"encoding/json"
	"image"
	_ "image/jpeg" // decodes the JPEG the server converts the logo to
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDemoDefaultMode runs the seeds' On REST Authentication example as shipped: a sales
// person logs in with the 4D headers, fillSession stores the top three customers.
func TestDemoDefaultMode(t *testing.T) {
	s := startServer(t, copyDemo(t), "--licenses", "3")
	b := s.browser()
	code, body := b.do("POST", "/rest/$directory/login", map[string]string{
		"username-4D": "ann@example.com", "password-4D": "sales-secret", "session-4D-length": "120"}, "")
	if code != 200 || body != `{"result":true}` {
		t.Fatalf("login: %d %s", code, body)
	}
	_, body = b.do("GET", "/rest/$directory/currentUser", nil, "")
	if !strings.Contains(body, `"userName":"ann@example.com","fullName":"Ann Archer"`) {
		t.Fatalf("currentUser: %s", body)
	}
	_, body = b.do("POST", "/rest/$catalog/whoAmI", nil, "")
	var who struct {
		Result struct {
			Privileges []string
			Storage    struct {
				Info   struct{ UserName string }
				MyTop3 []struct{ Name string }
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &who); err != nil {
		t.Fatal(err)
	}
	top := who.Result.Storage.MyTop3
	if len(top) != 3 || top[0].Name != "Acme" || top[1].Name != "Cogs Ltd" || top[2].Name != "Bolt & Nut" ||
		who.Result.Storage.Info.UserName != "Ann Archer" {
		t.Fatalf("fillSession storage: %s", body)
	}
	// Sales may read customers but never a password.
	code, body = b.do("GET", "/rest/SalesPersons(1)", nil, "")
	if code != 200 || strings.Contains(body, "password") || strings.Contains(body, "$2a$") {
		t.Fatalf("SalesPersons(1): %d %s", code, body)
	}
	if code, _ := b.do("GET", "/rest/Users", nil, ""); code != 401 {
		t.Fatalf("sales read Users: %d", code)
	}
	code, body = b.do("POST", "/rest/SalesPersons/myCustomers", nil, "")
	if code != 200 || !strings.Contains(body, `"__COUNT":4`) {
		t.Fatalf("myCustomers: %d %s", code, body)
	}
	// The demo's entity and selection functions (scripts/Customers.js), as in the README.
	code, body = b.do("POST", "/rest/Customers(1)/sendReminder", nil, `["Your order is ready"]`)
	if code != 200 || body != `{"result":{"from":"Ann Archer <ann@example.com>","text":"Your order is ready","to":"Acme","totalPurchase":125000}}` {
		t.Fatalf("sendReminder: %d %s", code, body)
	}
	code, body = b.do("POST", "/rest/Customers/totalOf?$filter="+url.QueryEscape(`"totalPurchase > 50000"`), nil, "")
	if code != 200 || body != `{"result":{"count":3,"total":300000}}` {
		t.Fatalf("totalOf: %d %s", code, body)
	}
	code, body = b.do("GET", "/rest/Customers/totalOf?$params="+url.QueryEscape(`'["ID"]'`), nil, "")
	if code != 200 || body != `{"result":{"count":6,"total":21}}` {
		t.Fatalf("totalOf ID: %d %s", code, body)
	}
	// The README's picture walkthrough: upload web/logo.png, assign it to Customers(1).logo,
	// read it back as uploaded and as JPEG; the list carries the deferred URI, not the bytes.
	logo, err := os.ReadFile(filepath.Join("..", "..", "web", "logo.png"))
	if err != nil {
		t.Fatal(err)
	}
	code, body = b.do("POST", "/rest/$upload?$rawPict=true", map[string]string{"Content-Type": "image/png"}, string(logo))
	var up struct{ ID string }
	if err := json.Unmarshal([]byte(body), &up); code != 200 || err != nil || len(up.ID) != 32 {
		t.Fatalf("upload: %d %s", code, body)
	}
	code, body = b.do("POST", "/rest/Customers?$method=update", nil, `{"__KEY":"1","logo":{"ID":"`+up.ID+`"}}`)
	deferred := `"logo":{"__deferred":{"uri":"/rest/Customers(1)/logo?$imageformat=best&$version=2&$expand=logo","image":true}}`
	if code != 200 || !strings.Contains(body, deferred) {
		t.Fatalf("assigning the logo: %d %s", code, body)
	}
	if code, body = b.do("GET", "/rest/Customers?$attributes=name,logo", nil, ""); code != 200 || !strings.Contains(body, deferred) || strings.Contains(body, "PNG") {
		t.Fatalf("the list's logo: %d %s", code, body)
	}
	if code, body = b.do("GET", "/rest/Customers(1)/logo?$imageformat=best&$version=2&$expand=logo", nil, ""); code != 200 || body != strings.TrimSpace(string(logo)) {
		t.Fatalf("the logo as uploaded: %d, %d bytes, want %d", code, len(body), len(logo))
	}
	code, body = b.do("GET", "/rest/Customers(1)/logo?$imageformat=jpeg&$version=2&$expand=logo", nil, "")
	if _, format, err := image.Decode(strings.NewReader(body)); code != 200 || err != nil || format != "jpeg" {
		t.Fatalf("the logo as JPEG: %d, %s, %v", code, format, err)
	}

	// A wrong password: 401 {"result":false}.
	if code, body := s.browser().do("POST", "/rest/$directory/login", map[string]string{
		"username-4D": "ann@example.com", "password-4D": "nope"}, ""); code != 401 || body != `{"result":false}` {
		t.Fatalf("bad login: %d %s", code, body)
	}
	// Users are looked up exactly: "@" is a wildcard of "=", so "a@" once logged in as ann
	// with her password. An unknown spelling is an unknown user.
	for _, user := range []string{"a@", "@", "ann@", "adm@"} {
		if code, body := s.browser().do("POST", "/rest/$directory/login", map[string]string{
			"username-4D": user, "password-4D": "sales-secret"}, ""); code != 401 {
			t.Fatalf("login as %q with ann's password: %d %s", user, code, body)
		}
	}
	// The admin (a Users account) gets WebAdmin through HTTP Basic and sees $info.
	a := s.browser()
	code, body = a.do("GET", "/rest/$info", map[string]string{"Authorization": "Basic YWRtaW46YWRtaW4tc2VjcmV0"}, "")
	if code != 200 || !strings.Contains(body, `"licences":{"max":3,"used":2}`) {
		t.Fatalf("$info: %d %s", code, body)
	}
}

// TestDemoForceLoginSwitch flips the documented one-line switch and runs the seeds'
// force login sequence against the shipped authentify().
func TestDemoForceLoginSwitch(t *testing.T) {
	dir := copyDemo(t)
	flipForceLogin(t, dir, true)
	s := startServer(t, dir, "--licenses", "1")
	b := s.browser()
	for _, p := range []string{"/rest/$catalog", "/rest/$catalog/$all", "/rest/$getWebForm/login"} {
		if code, body := b.do("GET", p, nil, ""); code != 200 {
			t.Fatalf("%s: %d %s", p, code, body)
		}
	}
	if code, _ := b.do("GET", "/rest/Customers", nil, ""); code != 401 {
		t.Fatalf("guest data request: %d", code)
	}
	if code, _ := b.do("POST", "/rest/$directory/login", map[string]string{"username-4D": "kind user", "password-4D": "kind-secret"}, ""); code != 401 {
		t.Fatalf("$directory/login in force login mode: %d", code)
	}
	_, body := b.do("POST", "/rest/$catalog/authentify", nil, `[{"identifier":"kind user","password":"wrong"}]`)
	if body != `{"result":"Wrong password"}` {
		t.Fatalf("authentify wrong: %s", body)
	}
	_, body = b.do("POST", "/rest/$catalog/authentify", nil, `[{"identifier":"kind user","password":"kind-secret"}]`)
	if body != `{"result":"Authentication successful"}` {
		t.Fatalf("authentify: %s", body)
	}
	if code, body := b.do("GET", "/rest/Customers?$top=1", nil, ""); code != 200 || !strings.Contains(body, `"__COUNT":6`) {
		t.Fatalf("after authentify: %d %s", code, body)
	}
	// The only licence is taken: another user's authentify answers 402.
	if code, _ := s.browser().do("POST", "/rest/$catalog/authentify", nil, `[{"identifier":"admin","password":"admin-secret"}]`); code != 402 {
		t.Fatalf("second authentify with no licence free: %d", code)
	}
}

func flipForceLogin(t *testing.T, dir string, on bool) {
	t.Helper()
	p := filepath.Join(dir, "roles.json")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	from, to := `"forceLogin": false`, `"forceLogin": true`
	if !on {
		from, to = to, from
	}
	if !strings.Contains(string(data), from) {
		t.Fatalf("roles.json has no %s", from)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(data), from, to, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRolesReload: a tightened roles.json applies to the next request; a broken one never
// opens anything and is reported to WebAdmin.
func TestRolesReload(t *testing.T) {
	dir := copyDemo(t)
	s := startServer(t, dir)
	sales := s.browser()
	sales.do("POST", "/rest/$directory/login", map[string]string{"username-4D": "ann@example.com", "password-4D": "sales-secret"}, "")
	if code, _ := sales.do("GET", "/rest/Customers", nil, ""); code != 200 {
		t.Fatalf("before: %d", code)
	}
	p := filepath.Join(dir, "roles.json")
	orig, _ := os.ReadFile(p)
	waitReload := func() {
		t.Helper()
		select {
		case <-s.reloaded:
		case <-time.After(10 * time.Second):
			t.Fatal("no reload")
		}
	}
	tight := strings.Replace(string(orig), `"read": ["sales", "vip"]`, `"read": ["vip"]`, 1)
	os.WriteFile(p, []byte(tight), 0o644)
	waitReload()
	if code, _ := sales.do("GET", "/rest/Customers", nil, ""); code != 401 {
		t.Fatalf("after tightening: %d", code)
	}
	// Broken: an undeclared privilege, and a JSON syntax error. The tight version stays.
	for _, broken := range []string{strings.Replace(tight, `"read": ["vip"]`, `"read": ["everyone"]`, 1), `{"forceLogin": fals`} {
		os.WriteFile(p, []byte(broken), 0o644)
		waitReload()
		if code, _ := sales.do("GET", "/rest/Customers", nil, ""); code != 401 {
			t.Fatalf("a broken roles.json opened access: %d", code)
		}
	}
	admin := s.browser()
	_, body := admin.do("GET", "/rest/$info", map[string]string{"Authorization": "Basic YWRtaW46YWRtaW4tc2VjcmV0"}, "")
	if !strings.Contains(body, `"roles":{"lastError":"`) || !strings.Contains(body, "roles.json:1:") {
		t.Fatalf("$info does not report the rejected roles.json: %s", body)
	}
}
