package rest

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"

	"gatehouse/datastore"
)

// BenchmarkGetExpand measures GET /rest/Team(7) alone ("plain": one read, outside any
// transaction) and with its N→1 league expanded ("expand": two reads in the request's
// snapshot), what one read transaction per request costs a single entity.
func BenchmarkGetExpand(b *testing.B) {
	model := `{"dataClasses":[{"name":"League","attributes":[{"name":"ID","type":"long","primaryKey":true,"autoincrement":true},{"name":"name","type":"string"}]},` +
		`{"name":"Team","attributes":[{"name":"ID","type":"long","primaryKey":true,"autoincrement":true},{"name":"name","type":"string"},{"name":"league","kind":"relatedEntity","type":"League"}]}]}`
	fill := func(b *testing.B, db *datastore.DB) {
		ctx := context.Background()
		l, err := db.Save(ctx, &datastore.Entity{DataClass: db.Model().DataClass("League"), Values: map[string]any{"name": "L"}})
		if err != nil {
			b.Fatal(err)
		}
		var ents []*datastore.Entity
		for i := range 1000 {
			e := db.Model().DataClass("Team").NewEntity()
			e.Values["name"] = fmt.Sprint("Team ", i)
			e.Values["league"] = l.Key
			ents = append(ents, e)
		}
		if _, err := db.SaveAll(ctx, ents); err != nil {
			b.Fatal(err)
		}
	}
	bs := newBenchServer(b, benchOptions{model: model, fill: fill})
	cookie := bs.session(b, "reader")
	for _, c := range []struct{ name, path string }{{"plain", "/rest/Team(7)"}, {"expand", "/rest/Team(7)?$expand=league"}} {
		path := c.path
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", path, nil)
			req.AddCookie(cookie)
			serveLoop(b, bs.srv, req, nil)
		})
	}
}
