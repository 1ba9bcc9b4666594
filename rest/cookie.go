package rest

import (
	"net/http"
	"net/textproto"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// cookiesNamed calls yield with the value of each cookie named name in the Cookie header
// lines, in order: what net/http's Request.CookiesNamed(name) returns, without allocating
// a slice and a Cookie for each (it is on the path of every authenticated request).
// TestCookiesNamedMatchesNetHTTP and FuzzCookiesNamed hold it to that, byte for byte.
//
// It applies net/http's default limit (no cookie at all from a request that sends more
// than defaultCookieLimit); a server whose net/http has another limit (GODEBUG
// httpcookiemaxnum) does not use it (see cookieLimitIsDefault).
func cookiesNamed(lines []string, name string, yield func(value string)) {
	if len(lines) == 0 || !httpguts.ValidHeaderFieldName(name) {
		return // net/http keeps only cookies whose name is a token
	}
	n := 0
	for _, line := range lines {
		n += strings.Count(line, ";") + 1
	}
	if n > defaultCookieLimit {
		return
	}
	for _, line := range lines {
		line = textproto.TrimString(line)
		var part string
		for len(line) > 0 {
			part, line, _ = strings.Cut(line, ";")
			part = textproto.TrimString(part)
			if part == "" {
				continue
			}
			k, v, _ := strings.Cut(part, "=")
			if textproto.TrimString(k) != name {
				continue
			}
			if v, ok := cookieValue(v); ok {
				yield(v)
			}
		}
	}
}

// cookieValue is a cookie's value as net/http reads it from a Cookie header: without its
// double quotes, if it has them; ok false when a byte is not allowed in a value.
func cookieValue(raw string) (string, bool) {
	if len(raw) > 1 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		raw = raw[1 : len(raw)-1]
	}
	for i := 0; i < len(raw); i++ {
		if b := raw[i]; b < 0x20 || b >= 0x7f || b == '"' || b == ';' || b == '\\' {
			return "", false
		}
	}
	return raw, true
}

// defaultCookieLimit is net/http's default bound on the cookies of a request.
const defaultCookieLimit = 3000

// cookieLimitIsDefault reports whether net/http reads cookies under defaultCookieLimit
// (GODEBUG httpcookiemaxnum may set another): 3000 cookies read, 3001 none.
func cookieLimitIsDefault() bool {
	r := &http.Request{Header: http.Header{"Cookie": {strings.Repeat("a=b;", defaultCookieLimit-1) + "a=b"}}}
	if len(r.CookiesNamed("a")) != defaultCookieLimit {
		return false
	}
	r.Header["Cookie"] = []string{strings.Repeat("a=b;", defaultCookieLimit) + "a=b"}
	return len(r.CookiesNamed("a")) == 0
}
