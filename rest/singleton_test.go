package rest

import (
	"strings"
	"testing"
)

const singletonRoles = `{
 "privileges":[{"privilege":"shopper"},{"privilege":"cashier"}],
 "permissions":{"allowed":[
   {"applyTo":"Cart","type":"singleton","execute":["shopper"]},
   {"applyTo":"Cart.checkout","type":"singletonMethod","execute":["guest"],"promote":["cashier"]},
   {"applyTo":"Cart.refund","type":"singletonMethod","execute":["cashier"]}
 ]}
}`

const cartSingleton = `
let calls = 0; // module state: one call's only
exports.add = function (a, b) { calls++; return [a + b, calls]; };
exports.checkout = function () { return Session.hasPrivilege("cashier"); };
exports.refund = function () { return "refunded"; };
exports.total = function () { return ds.Employees.all().length; };
exports.total.onHttpGet = true;
exports.one = function () { return ds.Employees.get(2); };
`

func singletonHarness(t *testing.T) *harness {
	return newHarness(t, harnessOptions{roles: singletonRoles, model: testModel, seed: testSeed,
		scripts: map[string]string{"DataStore.js": grantScript, "singletons/Cart.js": cartSingleton,
			"singletons/Clock.js": `exports.now = function () { return "tick"; };`}})
}

// TestSingletonFunctions: POST /rest/$singleton/Name/fn runs a function of
// scripts/singletons/Name.js, permitted by singletonMethod, else singleton, else ds.
func TestSingletonFunctions(t *testing.T) {
	h := singletonHarness(t)
	guest := h.client()
	wantStatus(t, guest.post("/rest/$singleton/Cart/add", `[1,2]`), 401, 1561)
	wantBody(t, guest.post("/rest/$singleton/Clock/now", ``), `{"result":"tick"}`)   // no setting: open
	wantBody(t, guest.post("/rest/$singleton/Cart/checkout", ``), `{"result":true}`) // promote
	wantStatus(t, guest.post("/rest/$singleton/Cart/refund", ``), 401, 1561)

	c := h.client().as("shopper")
	wantBody(t, c.post("/rest/$singleton/Cart/add", `[1,2]`), `{"result":[3,1]}`)
	wantBody(t, c.post("/rest/$singleton/Cart/add", `[2,2]`), `{"result":[4,1]}`) // no state kept between calls
	wantStatus(t, c.post("/rest/$singleton/Cart/refund", ``), 401, 1561)          // its own setting wins
	wantBody(t, c.get("/rest/$singleton/Cart/total"), `{"result":4}`)
	wantStatus(t, c.get("/rest/$singleton/Cart/add"), 405, 1829)
	r := c.post("/rest/$singleton/Cart/one", ``)
	wantStatus(t, r, 200, 0)
	if o := r.json(t); o["__DATACLASS"] != "Employees" || o["__KEY"] != "2" {
		t.Errorf("entity result: %s", r.body)
	}
	wantStatus(t, c.post("/rest/$singleton/Cart/nothing", ``), 404, 1800)
	wantStatus(t, c.post("/rest/$singleton/Nope/add", ``), 404, 1800)
	wantStatus(t, c.post("/rest/$singleton/Cart/add?$filter="+q(`"ID = 1"`), `[1,2]`), 400, 1811)

	cat := h.client().get("/rest/$catalog")
	wantStatus(t, cat, 200, 0)
	if !strings.Contains(string(cat.body), `"singletons":[{"name":"Cart","methods":[{"name":"add","exposed":true,"allowedOnHTTPGET":false},{"name":"checkout"`) ||
		!strings.Contains(string(cat.body), `{"name":"total","exposed":true,"allowedOnHTTPGET":true}`) ||
		!strings.Contains(string(cat.body), `{"name":"Clock","methods":[{"name":"now","exposed":true,"allowedOnHTTPGET":false}]}`) {
		t.Errorf("$catalog singletons: %s", cat.body)
	}
}
