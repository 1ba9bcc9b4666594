package server

import (
	"net/netip"
	"strings"
	"testing"
)

func mustPrefixes(t *testing.T, list string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, p := range strings.Split(list, ",") {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}
