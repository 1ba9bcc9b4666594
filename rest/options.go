package rest

import (
	"net/http"
	"strings"
)

// dataOptions are the $ query options data requests implement (SPEC §3.5, §3.7). Any other
// $ option is refused with 1811, never ignored.
var dataOptions = map[string]bool{
	"$filter": true, "$params": true, "$orderby": true, "$top": true, "$limit": true, "$skip": true,
	"$attributes": true, "$expand": true, "$method": true, "$asArray": true,
	"$timeout": true, "$savedfilter": true, "$savedorderby": true, "$logicOperator": true,
	"$otherCollection": true, "$clean": true, "$subOrderby": true,
	"$atomic": true, "$atOnce": true, "$refresh": true, "$compute": true, "$distinct": true, "$lock": true,
	"$queryplan": true, "$querypath": true,
	"$binary": true, "$imageformat": true, "$version": true, // binary attributes only (checkBinaryOptions)
	"$4DSID": true, // a one-time passcode, read by the session layer
}

// refusedOptions are options of 4D's protocol this server does not implement yet: refused
// with 1811 and a message that says so, rather than answered as if they had been applied.
var refusedOptions = map[string]bool{
	"$format": true,
}

// checkDataOptions refuses a $ option that data requests do not implement.
func checkDataOptions(r *http.Request) error {
	if !strings.Contains(r.URL.RawQuery, "$") && !strings.Contains(r.URL.RawQuery, "%24") {
		return nil
	}
	for name := range r.URL.Query() {
		if !strings.HasPrefix(name, "$") || dataOptions[name] {
			continue
		}
		if refusedOptions[name] {
			return errorf(http.StatusBadRequest, codeUnknownKeyword, "%s is not supported by this server", name)
		}
		return errorf(http.StatusBadRequest, codeUnknownKeyword, "Unknown keyword %s", name)
	}
	return nil
}

// writeSelection answers a selection: 4D's object, or with $asArray=true the entities
// alone as a JSON array.
func writeSelection(w http.ResponseWriter, r *http.Request, v any) {
	if out, ok := v.(object); ok && queryParam(r, "$asArray") == "true" {
		for _, f := range out {
			if f.k == "__ENTITIES" {
				writeJSON(w, http.StatusOK, f.v)
				return
			}
		}
	}
	writeJSON(w, http.StatusOK, v)
}
