package rest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"gatehouse/engine"
	"gatehouse/sessions"
)

// 4D error codes (1500–1829 follow 4D; 1900 and up are gatehouse's own, listed in the README).
const (
	codeUnknownAttribute  = 1500
	codeNoUpdatePerm      = 1558
	codeNoExecutePerm     = 1561
	codeStampChanged      = 1263
	codeQuerySyntax       = 1162
	codePlaceholderAbsent = 1279
	codePlaceholderType   = 1280
	codeUnknownDataClass  = 1800
	codeMalformedURL      = 1806
	codeUnknownKeyword    = 1811
	codeUnknownMethod     = 1812
	codeLoginFailed       = 1822
	codeNoLicence         = 1823
	codeGetNotAllowed     = 1829
	codeGuestNotAllowed   = 1901
	codeNoReadPerm        = 1902
	codeNoCreatePerm      = 1903
	codeNoDropPerm        = 1904
	codeBadBody           = 1905
	codeBodyTooLarge      = 1906
	codeScriptThrew       = 1907
	codeScriptTimeout     = 1908
	codeTooManyLogins     = 1909
	codeInternal          = 1910
	codeDatabaseBusy      = 1911
)

// Error is an error with its HTTP answer: status, 4D errCode and a message that is safe
// to show. Err, when set, is the internal cause: it is logged, never sent.
type Error struct {
	Status     int
	Code       int
	Message    string
	Err        error
	RetryAfter time.Duration // sent as Retry-After when set
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%d %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

func errorf(status, code int, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

var (
	errGuest = &Error{Status: http.StatusUnauthorized, Code: codeGuestNotAllowed,
		Message: "This request needs an authenticated session: call /rest/$catalog/authentify first"}
	errNoLicence = &Error{Status: http.StatusPaymentRequired, Code: codeNoLicence,
		Message: "Maximum number of sessions reached"}
	errLoginFailed = &Error{Status: http.StatusUnauthorized, Code: codeLoginFailed,
		Message: "Authentication failed"}
)

// errorBody is 4D's error stack.
type errorBody struct {
	Errors []errorItem `json:"__ERROR"`
}

type errorItem struct {
	Message            string `json:"message"`
	ComponentSignature string `json:"componentSignature"`
	ErrCode            int    `json:"errCode"`
}

// toError maps any error to its HTTP answer. This is the one place where error kinds
// meet status codes.
func toError(err error) *Error {
	var e *Error
	var se *engine.ScriptError
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, sessions.ErrLicenceExhausted):
		return &Error{Status: errNoLicence.Status, Code: errNoLicence.Code, Message: errNoLicence.Message, Err: err}
	case errors.Is(err, engine.ErrMemoryLimit):
		return &Error{Status: http.StatusServiceUnavailable, Code: codeScriptTimeout,
			Message: "The script used too much memory and was stopped", Err: err}
	case errors.Is(err, engine.ErrTimeout):
		return &Error{Status: http.StatusServiceUnavailable, Code: codeScriptTimeout,
			Message: "The script took too long and was stopped", Err: err}
	case errors.As(err, &se):
		msg := "The script failed"
		if se.Expose && se.Message != "" {
			msg = se.Message
		}
		return &Error{Status: http.StatusInternalServerError, Code: codeScriptThrew, Message: msg, Err: err}
	case errors.Is(err, engine.ErrNoFunction):
		return &Error{Status: http.StatusNotFound, Code: codeUnknownDataClass, Message: "Unknown function", Err: err}
	case errors.Is(err, context.Canceled):
		// The client went away; 499 is nginx's convention, and nobody reads the body.
		return &Error{Status: 499, Code: codeInternal, Message: "Request cancelled", Err: err}
	}
	if e := dataError(err); e != nil {
		return e
	}
	return &Error{Status: http.StatusInternalServerError, Code: codeInternal, Message: "Internal server error", Err: err}
}

// writeError sends err as a 4D error stack and logs what the client does not see.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := toError(err)
	log := s.logger(r)
	switch {
	case e.Status >= 500:
		log.Error("request failed", "status", e.Status, "errCode", e.Code, "err", err)
	case e.Err != nil:
		log.Info("request refused", "status", e.Status, "errCode", e.Code, "err", e.Err)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	writeJSON(w, e.Status, errorBody{Errors: []errorItem{{Message: e.Message, ComponentSignature: "dbmg", ErrCode: e.Code}}})
}

// logger is the request's logger (it carries the request ID).
func (s *Server) logger(r *http.Request) *slog.Logger {
	if st := stateOf(r); st != nil {
		return st.logger(s.log)
	}
	return s.log
}
