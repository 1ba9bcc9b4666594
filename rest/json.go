package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"runtime/debug"
)

// maxJSONDepth bounds nesting in request bodies (deeply nested input costs stack and time).
const maxJSONDepth = 64

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"__ERROR":[{"message":"Internal server error","componentSignature":"dbmg","errCode":1910}]}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

var errBadJSON = errorf(http.StatusBadRequest, codeBadBody, "Request body is not valid JSON")

// readBody reads the whole body, mapping an oversized body to 413.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, bodyReadError(err)
	}
	return b, nil
}

func bodyReadError(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return errBodyTooLarge
	}
	return &Error{Status: http.StatusBadRequest, Code: codeBadBody, Message: "Could not read the request body", Err: err}
}

// decodeBody reads a JSON body into v (400 / 1905 when it is not JSON of that shape).
func decodeBody(r *http.Request, v any) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	if err := checkJSON(b); err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return errorf(http.StatusBadRequest, codeBadBody, "Request body does not have the expected shape")
	}
	return nil
}

// checkJSON verifies that b is one valid JSON value nested at most maxJSONDepth deep.
func checkJSON(b []byte) error {
	if !json.Valid(b) {
		return errBadJSON
	}
	depth := 0
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > maxJSONDepth {
				return errorf(http.StatusBadRequest, codeBadBody, "Request body is nested too deeply")
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

func stack() string { return string(debug.Stack()) }
