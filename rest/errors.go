package rest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"gatehouse/core"
	"gatehouse/datastore"
	"gatehouse/engine"
	"gatehouse/internal/errkind"
	"gatehouse/roles"
	"gatehouse/sessions"
)

// 4D error codes (1500–1829 follow 4D; 1900 and up are gatehouse's own, listed in docs/errors.md).
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
	codeStoreUnavailable  = 1912
	codeCrossOrigin       = 1913
	codeLocked            = 1914
	codeTooManyUploads    = 1915
	codeNotConvertible    = 1916
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
	errNoLicence = &Error{Status: http.StatusPaymentRequired, Code: codeNoLicence,
		Message: "Maximum number of sessions reached"}
	errUnknownFunction = &Error{Status: http.StatusNotFound, Code: codeUnknownDataClass, Message: "Unknown function"}
)

// permissionCodes are 4D's codes for each refused action.
var permissionCodes = map[roles.Action]int{
	roles.Read: codeNoReadPerm, roles.Create: codeNoCreatePerm, roles.Update: codeNoUpdatePerm,
	roles.Drop: codeNoDropPerm, roles.Execute: codeNoExecutePerm,
}

// queryCodes are 4D's codes for each kind of bad query.
var queryCodes = map[datastore.QueryReason]int{
	datastore.ReasonSyntax: codeQuerySyntax, datastore.ReasonPlaceholderMissing: codePlaceholderAbsent,
	datastore.ReasonWrongType: codePlaceholderType, datastore.ReasonUnknownAttribute: codeUnknownAttribute,
	datastore.ReasonUnsupported: codeUnknownKeyword,
}

// errorBody is 4D's error stack.
type errorBody struct {
	Errors []errorItem `json:"__ERROR"`
}

type errorItem struct {
	Message            string `json:"message"`
	ComponentSignature string `json:"componentSignature"`
	ErrCode            int    `json:"errCode"`
}

// toError maps any error to its HTTP answer. This is the one place where errors meet
// statuses and 4D codes: first the errors whose 4D code is their own, then by kind
// (errkind), which every package sets where its errors arise.
func toError(err error) *Error {
	var (
		e   *Error
		se  *engine.ScriptError
		pe  *core.PermissionError
		te  *sessions.ThrottledError
		qe  *datastore.QueryError
		ve  *datastore.ValueError
		out = func(status, code int, msg string) *Error {
			return &Error{Status: status, Code: code, Message: msg, Err: err}
		}
	)
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, context.Canceled):
		// The client went away; 499 is nginx's convention, and nobody reads the body.
		return out(499, codeInternal, "Request cancelled")
	case errors.Is(err, core.ErrGuest):
		return out(http.StatusUnauthorized, codeGuestNotAllowed,
			"This request needs an authenticated session: call /rest/$catalog/authentify first")
	case errors.Is(err, core.ErrForceLoginMode):
		return out(http.StatusUnauthorized, codeGuestNotAllowed,
			"This server authenticates through /rest/$catalog/authentify (force login mode)")
	case errors.Is(err, core.ErrLoginFailed):
		return out(http.StatusUnauthorized, codeLoginFailed, "Authentication failed")
	case errors.Is(err, core.ErrNotAdmin):
		return out(http.StatusUnauthorized, codeNoReadPerm, "This request requires the WebAdmin privilege")
	case errors.Is(err, core.ErrUnknownFunction), errors.Is(err, engine.ErrNoFunction):
		return out(http.StatusNotFound, codeUnknownDataClass, "Unknown function")
	case errors.As(err, &pe):
		return out(http.StatusUnauthorized, permissionCodes[pe.Action],
			fmt.Sprintf("No permission to %s %s", pe.Action, pe.Resource))
	case errors.Is(err, sessions.ErrUnavailable):
		e := out(http.StatusServiceUnavailable, codeStoreUnavailable, "The session store is unavailable: try again")
		e.RetryAfter = time.Second
		return e
	case errors.Is(err, sessions.ErrLocked):
		return out(http.StatusConflict, codeLocked, "The entity is locked by another session")
	case errors.Is(err, sessions.ErrLicenceExhausted):
		return out(errNoLicence.Status, errNoLicence.Code, errNoLicence.Message)
	case errors.As(err, &te):
		e := out(http.StatusTooManyRequests, codeTooManyLogins, "Too many failed logins: try again later")
		e.RetryAfter = te.RetryAfter
		return e
	case errors.Is(err, engine.ErrMemoryLimit):
		return out(http.StatusServiceUnavailable, codeScriptTimeout, "The script used too much memory and was stopped")
	case errors.Is(err, engine.ErrTimeout):
		return out(http.StatusServiceUnavailable, codeScriptTimeout, "The script took too long and was stopped")
	case errors.As(err, &se):
		msg := "The script failed"
		if se.Expose && se.Message != "" {
			msg = se.Message
		}
		return out(http.StatusInternalServerError, codeScriptThrew, msg)
	case errors.Is(err, datastore.ErrStampChanged):
		return out(http.StatusConflict, codeStampChanged,
			"The entity was modified by someone else (stamp changed): reload it and try again")
	case errors.Is(err, datastore.ErrDuplicateKey):
		return out(http.StatusConflict, codeStampChanged, "An entity with that key already exists")
	case errors.Is(err, datastore.ErrTooManyUploads):
		return out(http.StatusTooManyRequests, codeTooManyUploads,
			"Too many pending uploads for this session: assign them to entities or let them expire")
	case errors.Is(err, datastore.ErrUnknownDataClass):
		return out(http.StatusNotFound, codeUnknownDataClass, "Unknown dataclass")
	case errors.Is(err, datastore.ErrNotFound):
		return out(http.StatusNotFound, codeUnknownDataClass, "Entity not found")
	case errors.As(err, &qe):
		status := http.StatusBadRequest
		if qe.Reason == datastore.ReasonUnknownAttribute {
			status = http.StatusNotFound
		}
		return out(status, queryCodes[qe.Reason], qe.Error())
	case errors.As(err, &ve):
		return out(http.StatusBadRequest, codeBadBody, ve.Error())
	}
	switch errkind.Of(err) {
	case errkind.NotFound:
		return out(http.StatusNotFound, codeUnknownDataClass, "Not found")
	case errkind.Conflict:
		return out(http.StatusConflict, codeStampChanged, "The data changed meanwhile: reload it and try again")
	case errkind.Unavailable:
		e := out(http.StatusServiceUnavailable, codeDatabaseBusy, "The database is busy: try again")
		e.RetryAfter = time.Second
		return e
	case errkind.Timeout:
		return out(http.StatusServiceUnavailable, codeScriptTimeout, "The request took too long and was stopped")
	}
	return out(http.StatusInternalServerError, codeInternal, "Internal server error")
}

// writeError sends err as a 4D error stack and logs what the client does not see.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := toError(err)
	s.observeError(err, e)
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
