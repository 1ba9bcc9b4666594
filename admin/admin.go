// Package admin holds what the admin console at /admin/ needs besides the REST protocol:
// its page and assets (html/template and a little plain JavaScript, embedded: no build
// step), the history of licences used over the last hour, and a watch on the login
// counters of the session store so that throttled keys can be listed and cleared.
//
// The console's routes, its access check (WebAdmin) and its actions live in package rest,
// with every other route; this package knows nothing of HTTP requests.
package admin

import (
	"embed"
	"html/template"
	"io/fs"
)

//go:embed assets
var assets embed.FS

// Assets are the console's static files (admin.css, admin.js, favicon.svg).
func Assets() fs.FS {
	sub, _ := fs.Sub(assets, "assets")
	return sub
}

// Page is the console's page. It is executed with PageData.
var Page = template.Must(template.ParseFS(assets, "assets/index.html"))

// PageData is what the page shows before its script takes over.
type PageData struct {
	Version    string
	ForceLogin bool // the sign-in form calls authentify() instead of $directory/login
}
