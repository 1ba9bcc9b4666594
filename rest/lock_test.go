package rest

import (
	"net/url"
	"testing"
)

// TestLocks: $lock=true gives the session a pessimistic lock (__STATUS); another session
// sees it as Already Locked and cannot update or delete the entity (409 / 1914) until the
// holder unlocks, logs out — or its session expires (the store's conformance suite).
func TestLocks(t *testing.T) {
	h := dataHarness(t, "")
	a, b := h.client(), h.client()
	wantBody(t, a.get("/rest/Employees(1)?$lock=true"), `{"__STATUS":{"status":0,"statusText":"OK","success":true}}`)
	wantBody(t, a.get("/rest/Employees(1)?$lock=true"), `{"__STATUS":{"status":0,"statusText":"OK","success":true}}`)
	wantBody(t, b.get("/rest/Employees(1)?$lock=true"),
		`{"__STATUS":{"status":3,"statusText":"Already Locked","lockKind":7,"lockKindText":"Locked By Session","success":false}}`)
	wantStatus(t, b.post("/rest/Employees?$method=update", `{"__KEY":"1","firstName":"B"}`), 409, 1914)
	wantStatus(t, b.post("/rest/Employees(1)?$method=delete", ""), 409, 1914)
	wantStatus(t, b.post("/rest/Employees?$method=delete&$filter="+url.QueryEscape("ID < 3"), ""), 409, 1914)
	r := b.post("/rest/Employees?$method=update", `[{"__KEY":"1","firstName":"B"},{"__KEY":"2","firstName":"Bee"}]`)
	wantHas(t, r, `"errCode":1914`, `"firstName":"Bee"`)
	// The holder may write.
	wantHas(t, a.post("/rest/Employees?$method=update", `{"__KEY":"1","firstName":"A"}`), `"firstName":"A"`)
	wantBody(t, b.get("/rest/Employees(1)?$lock=false"), `{"__STATUS":{"status":0,"statusText":"Not Locked","success":false}}`)
	wantBody(t, a.get("/rest/Employees(1)?$lock=false"), `{"__STATUS":{"status":0,"statusText":"OK","success":true}}`)
	wantHas(t, b.post("/rest/Employees?$method=update", `{"__KEY":"1","firstName":"B"}`), `"firstName":"B"`)
	// Logout releases.
	wantStatus(t, a.get("/rest/Employees(3)?$lock=true"), 200, 0)
	wantStatus(t, b.post("/rest/Employees(3)?$method=delete", ""), 409, 1914)
	wantStatus(t, a.get("/rest/$directory/logout"), 200, 0)
	wantBody(t, b.post("/rest/Employees(3)?$method=delete", ""), `{"ok":true}`)
	wantStatus(t, b.get("/rest/Employees(99)?$lock=true"), 404, 1800)
}
