package rest

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// netHTTPCookiesNamed is what net/http reads: the reference cookiesNamed must match.
func netHTTPCookiesNamed(lines []string, name string) []string {
	r := &http.Request{Header: http.Header{}}
	if lines != nil {
		r.Header["Cookie"] = lines
	}
	var values []string
	for _, c := range r.CookiesNamed(name) {
		values = append(values, c.Value)
	}
	return values
}

func ourCookiesNamed(lines []string, name string) []string {
	var values []string
	cookiesNamed(lines, name, func(v string) { values = append(values, v) })
	return values
}

// cookieCases are Cookie headers (one line each unless split by \n) that net/http reads in
// ways worth matching: spaces, quotes, bad bytes, empty parts, names that are no tokens,
// repeated names, several lines.
var cookieCases = []string{
	"",
	"WASID4D=abc",
	" WASID4D=abc ",
	"WASID4D = abc",
	"WASID4D= abc",
	"WASID4D=abc ; other=1",
	"other=1; WASID4D=abc; WASID4D=def",
	"WASID4D=\"abc\"",
	"WASID4D=\"abc",
	"WASID4D=\"",
	"WASID4D=\"\"",
	"WASID4D=a\"b",
	"WASID4D=a\\b",
	"WASID4D=a b",
	"WASID4D=a,b",
	"WASID4D=a\x7fb",
	"WASID4D=a\tb",
	"WASID4D=é",
	"WASID4D",
	"WASID4D=",
	"WASID4D==x=",
	";;; WASID4D=abc;;",
	"\tWASID4D=abc\t;\tWASID4D=x\t",
	"wasid4d=abc",
	"WASID4D=abc\nWASID4D=def; WASID4D=ghi",
	"other=1\nWASID4D=\"q\"",
	"a b=1; WASID4D=abc",
	"WASID4D=abc=def",
	"\r\nWASID4D=abc\r\n",
	"WASID4D=abc;\x00WASID4D=def",
}

func splitLines(header string) []string {
	if header == "" {
		return nil
	}
	return strings.Split(header, "\n")
}

func TestCookiesNamedMatchesNetHTTP(t *testing.T) {
	if !cookieLimitIsDefault() {
		t.Fatal("net/http's cookie limit is not its default in this test binary")
	}
	for _, name := range []string{"WASID4D", "a b", "", "4DSID_x", "é"} {
		for _, header := range cookieCases {
			lines := splitLines(strings.ReplaceAll(header, "WASID4D", name))
			got, want := ourCookiesNamed(lines, name), netHTTPCookiesNamed(lines, name)
			if !slices.Equal(got, want) {
				t.Errorf("name %q, header %q: got %q, want %q (net/http)", name, lines, got, want)
			}
		}
	}
	// At net/http's limit and one past it (counted over every line).
	for _, n := range []int{defaultCookieLimit, defaultCookieLimit + 1} {
		line := strings.Repeat("x=1;", n-2) + "x=1"
		lines := []string{line, "WASID4D=abc"}
		got, want := ourCookiesNamed(lines, "WASID4D"), netHTTPCookiesNamed(lines, "WASID4D")
		if !slices.Equal(got, want) {
			t.Errorf("%d cookies: got %q, want %q (net/http)", n, got, want)
		}
	}
}

// With another cookie limit (GODEBUG httpcookiemaxnum) the server reads cookies through
// net/http, and so gets what net/http gives.
func TestSessionCookiesUnderAnotherCookieLimit(t *testing.T) {
	t.Setenv("GODEBUG", "httpcookiemaxnum=2")
	if cookieLimitIsDefault() {
		t.Skip("this Go does not take httpcookiemaxnum from GODEBUG at run time")
	}
	s := &Server{cfg: Config{CookieName: "WASID4D"}, plainCookies: cookieLimitIsDefault()}
	for _, header := range []string{"WASID4D=a; b=1", "WASID4D=a; b=1; c=2", "WASID4D=a"} {
		r := &http.Request{Header: http.Header{"Cookie": {header}}}
		var got []string
		s.sessionCookies(r, func(v string) { got = append(got, v) })
		if want := netHTTPCookiesNamed([]string{header}, "WASID4D"); !slices.Equal(got, want) {
			t.Errorf("%q: got %q, want %q (net/http)", header, got, want)
		}
	}
}

// The session cookies are the configured name's and every 4DSID_ cookie's, in order.
func TestSessionCookies(t *testing.T) {
	s := &Server{cfg: Config{CookieName: "WASID4D"}, plainCookies: cookieLimitIsDefault()}
	for _, tc := range []struct {
		header string
		want   []string
	}{
		{"", nil},
		{"WASID4D=a", []string{"a"}},
		{"x=1; WASID4D=a; WASID4D=b", []string{"a", "b"}},
		{"4DSID_app=c; x=1; WASID4D=a", []string{"c", "a"}},
		{"WASID4D=a; 4DSID_app=\"c\"; 4DSID_=d", []string{"a", "c", "d"}},
		{"wasid4d=a", nil},
	} {
		r := &http.Request{Header: http.Header{}}
		if tc.header != "" {
			r.Header["Cookie"] = []string{tc.header}
		}
		var got []string
		s.sessionCookies(r, func(v string) { got = append(got, v) })
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: got %q, want %q", tc.header, got, tc.want)
		}
	}
}

// FuzzCookiesNamed holds cookiesNamed to net/http's reading, for any header lines and name.
func FuzzCookiesNamed(f *testing.F) {
	for _, c := range cookieCases {
		f.Add(c, "WASID4D")
	}
	f.Add("a=1; b=2\na=3", "a")
	f.Fuzz(func(t *testing.T, header, name string) {
		lines := splitLines(header)
		got, want := ourCookiesNamed(lines, name), netHTTPCookiesNamed(lines, name)
		if !slices.Equal(got, want) {
			t.Fatalf("name %q, header %q: got %q, want %q (net/http)", name, lines, got, want)
		}
	})
}
