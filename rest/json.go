package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"runtime/debug"
	"sync"
)

// maxJSONDepth bounds nesting in request bodies (deeply nested input costs stack and time).
const maxJSONDepth = 64

// jsonBuffers recycles writeJSON's buffers: most answers are small, and growing a fresh
// buffer for each costs several allocations on every request.
var jsonBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := jsonBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 64<<10 { // large answers' buffers are left to the collector
			jsonBuffers.Put(buf)
		}
	}()
	var err error
	if o, ok := v.(object); ok {
		// Written in place rather than through MarshalJSON, which encoding/json would
		// validate and compact once more (see object.encode).
		if err = o.encode(buf); err == nil {
			buf.WriteByte('\n')
		}
	} else {
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		err = enc.Encode(v)
	}
	if err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"__ERROR":[{"message":"Internal server error","componentSignature":"dbmg","errCode":1910}]}`)
	}
	writeJSONBytes(w, status, buf.Bytes())
}

// jsonContentType is the Content-Type header of JSON answers: one slice for every answer,
// which Header.Set would allocate anew each time (header values are replaced, never written
// in place, so sharing it is safe).
var jsonContentType = []string{"application/json; charset=utf-8"}

// writeJSONBytes answers b, which is JSON.
func writeJSONBytes(w http.ResponseWriter, status int, b []byte) {
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	w.Write(b)
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
