package datastore

import (
	"fmt"

	"gatehouse/internal/errkind"
	"gatehouse/internal/jsonpos"
)

// Sentinel errors. Callers test them with errors.Is, or ask errkind.Of for their kind: the
// package classifies its errors where they arise and leaves protocol codes to its callers. A
// database locked past the busy timeout is errkind.Unavailable (trying again may work).
var (
	// ErrNotFound reports that an entity does not exist (or no longer exists).
	ErrNotFound = errkind.New(errkind.NotFound, "datastore: entity not found")
	// ErrStampChanged reports that an entity was saved or dropped by someone else since it was read.
	ErrStampChanged = errkind.New(errkind.Conflict, "datastore: stamp changed")
	// ErrUnknownDataClass reports a dataclass that is not part of the current model.
	ErrUnknownDataClass = errkind.New(errkind.NotFound, "datastore: unknown dataclass")
	// ErrUnknownAttribute reports an attribute name that the dataclass does not have, or one of
	// the wrong kind for the call (RelatedEntity on a storage attribute).
	ErrUnknownAttribute = errkind.New(errkind.NotFound, "datastore: unknown attribute")
	// ErrDuplicateKey reports an insert whose primary key is already taken.
	ErrDuplicateKey = errkind.New(errkind.Conflict, "datastore: duplicate primary key")
	// ErrIncompatibleModel reports a model that cannot be applied to an existing database without
	// losing or misreading data (a changed primary key or attribute type).
	ErrIncompatibleModel = errkind.New(errkind.Invalid, "datastore: model incompatible with the stored schema")
)

// QueryReason says what is wrong with a query.
type QueryReason uint8

const (
	ReasonSyntax             QueryReason = iota + 1 // the filter or order-by text is malformed
	ReasonPlaceholderMissing                        // a placeholder refers to a parameter that was not given
	ReasonWrongType                                 // a value does not fit the attribute
	ReasonUnknownAttribute                          // a path names no attribute, or one that cannot be used there
	ReasonUnsupported                               // the attribute cannot be queried, ordered or computed (binary attributes)
)

var reasonNames = [...]string{"", "syntax", "placeholder missing", "wrong type", "unknown attribute", "unsupported"}

func (r QueryReason) String() string {
	if int(r) < len(reasonNames) && r != 0 {
		return reasonNames[r]
	}
	return fmt.Sprintf("QueryReason(%d)", uint8(r))
}

// Clause names used in QueryError.Clause.
const (
	ClauseFilter  = "filter"
	ClauseOrderBy = "orderBy"
)

// QueryError reports a problem in a query's filter or order-by text. Message is written for the
// person who typed the query and never contains SQL or internal details, so it may be shown to a
// client.
type QueryError struct {
	Reason  QueryReason
	Pos     int    // byte offset in the clause text
	Message string // human-readable, safe to show
	Clause  string // ClauseFilter or ClauseOrderBy
}

// ErrorKind is errkind.NotFound for an unknown attribute, errkind.Invalid otherwise.
func (e *QueryError) ErrorKind() errkind.Kind {
	if e.Reason == ReasonUnknownAttribute {
		return errkind.NotFound
	}
	return errkind.Invalid
}

func (e *QueryError) Error() string {
	clause := e.Clause
	if clause == "" {
		clause = ClauseFilter
	}
	return fmt.Sprintf("datastore: %s at offset %d: %s", clause, e.Pos, e.Message)
}

// ValueError reports a value that does not fit its attribute on save: an unknown attribute, a
// value of the wrong type, a reference to a missing entity. Its kind is errkind.Invalid.
type ValueError struct {
	Attribute string
	Message   string
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("datastore: attribute %q: %s", e.Attribute, e.Message)
}

// ErrorKind is errkind.Invalid.
func (e *ValueError) ErrorKind() errkind.Kind { return errkind.Invalid }

// ModelError is one problem found in model.json, located by file, line, column and JSON path.
type ModelError struct {
	File    string
	Line    int // 1-based; 0 when unknown
	Col     int // 1-based, in characters
	Path    string
	Message string
}

func (e *ModelError) Error() string {
	return jsonpos.Describe(e.File, e.Line, e.Col, e.Path, e.Message)
}

// ModelErrors lists every problem found in one model file, in file order. errors.As finds each
// *ModelError through Unwrap.
type ModelErrors []*ModelError

func (es ModelErrors) Error() string { return jsonpos.JoinErrors(es) }

// Unwrap returns the individual errors.
func (es ModelErrors) Unwrap() []error { return jsonpos.UnwrapErrors(es) }
