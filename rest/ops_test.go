package rest

import "testing"

func TestPlainTemplate(t *testing.T) {
	for in, want := range map[string]string{
		"/rest/{path:[^$].*}":   "/rest/{path}",
		"/rest/$catalog/{name}": "/rest/$catalog/{name}",
		"/x/{a:[0-9]{2}}/{b}":   "/x/{a}/{b}",
		"/readyz":               "/readyz",
	} {
		if got := plainTemplate(in); got != want {
			t.Errorf("plainTemplate(%q) = %q, want %q", in, got, want)
		}
	}
}
