package datastore

import (
	"errors"
	"fmt"

	"gatehouse/internal/jsonpos"
)

// Sentinel errors. Callers test them with errors.Is; the REST layer maps them to 4D error codes.
var (
	// ErrNotFound reports that an entity does not exist (or no longer exists).
	ErrNotFound = errors.New("datastore: entity not found")
	// ErrStampChanged reports that an entity was saved or dropped by someone else since it was read.
	ErrStampChanged = errors.New("datastore: stamp changed")
	// ErrUnknownDataClass reports a dataclass that is not part of the current model.
	ErrUnknownDataClass = errors.New("datastore: unknown dataclass")
	// ErrUnknownAttribute reports an attribute name that the dataclass does not have, or one of
	// the wrong kind for the call (RelatedEntity on a storage attribute).
	ErrUnknownAttribute = errors.New("datastore: unknown attribute")
	// ErrDuplicateKey reports an insert whose primary key is already taken.
	ErrDuplicateKey = errors.New("datastore: duplicate primary key")
	// ErrIncompatibleModel reports a model that cannot be applied to an existing database without
	// losing or misreading data (a changed primary key or attribute type).
	ErrIncompatibleModel = errors.New("datastore: model incompatible with the stored schema")
)

// Query error codes, as in 4D.
const (
	CodeSyntax             = 1162 // the filter or order-by text is malformed
	CodePlaceholderMissing = 1279 // a placeholder refers to a parameter that was not given
	CodeWrongType          = 1280 // a value (placeholder or literal) does not fit the attribute
	CodeUnknownAttribute   = 1500 // a path names no attribute, or one that cannot be used there
)

// Clause names used in QueryError.Clause.
const (
	ClauseFilter  = "filter"
	ClauseOrderBy = "orderBy"
)

// QueryError reports a problem in a query's filter or order-by text. Message is written for the
// person who typed the query and never contains SQL or internal details, so it may be shown to a
// client.
type QueryError struct {
	Code    int    // CodeSyntax, CodePlaceholderMissing, CodeWrongType or CodeUnknownAttribute
	Pos     int    // byte offset in the clause text
	Message string // human-readable, safe to show
	Clause  string // ClauseFilter or ClauseOrderBy
}

func (e *QueryError) Error() string {
	clause := e.Clause
	if clause == "" {
		clause = ClauseFilter
	}
	return fmt.Sprintf("datastore: %s at offset %d: %s", clause, e.Pos, e.Message)
}

// ValueError reports a value that does not fit its attribute on save (REST answers 400).
type ValueError struct {
	Attribute string
	Message   string
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("datastore: attribute %q: %s", e.Attribute, e.Message)
}

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
