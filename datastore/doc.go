// Package datastore holds gatehouse's data: the model (model.json), entities stored in an
// embedded SQLite database (modernc.org/sqlite, pure Go) or in PostgreSQL (jackc/pgx, for
// several instances sharing one database), and 4D's query language compiled to parameterised
// SQL. It is a leaf package: it knows nothing of HTTP, sessions or permissions;
// the REST layer serialises entities and enforces permissions (Query.Visible hides attributes
// from filters), and the script engine binds `ds` on the same API.
//
// # Model
//
//	{"dataClasses": [
//	  {"name": "Company", "attributes": [
//	    {"name": "ID", "type": "long", "primaryKey": true, "autoincrement": true},
//	    {"name": "name", "type": "string", "indexed": true},
//	    {"name": "staff", "kind": "relatedEntities", "path": "employer"}]},
//	  {"name": "Employee", "exposed": true, "attributes": [
//	    {"name": "name", "type": "string"},
//	    {"name": "employer", "kind": "relatedEntity", "type": "Company"},
//	    {"name": "secret", "type": "string", "exposed": false}]}]}
//
// Keys of a dataclass: name (required), exposed (default true), attributes. Keys of an
// attribute: name (required), kind (storage — the default —, relatedEntity, relatedEntities),
// type (storage: string, long, number, bool, date, uuid, object; relatedEntity: the related
// dataclass; relatedEntities: optional, the related dataclass or "<Name>Selection"),
// primaryKey, autoincrement (on a long or uuid key), indexed, exposed (default true), path
// (relatedEntities: the relatedEntity attribute on the other side). Unknown keys are errors.
// Names are case-sensitive identifiers (letters, digits, '_'), must not start with "__", and
// must differ by more than case (SQLite's identifiers ignore case). A dataclass without a
// primary key gets an implicit "ID" long autoincrement key, as 4D gives new tables. Errors
// name the file, line, column and JSON path:
//
//	model.json:7:9: $.dataClasses[0].attributes[2].type: unknown type "strin" (expected …)
//
// # Storage
//
// One table per dataclass, named after it, one column per storage or relatedEntity attribute
// (the foreign key, REFERENCES the related table), plus __stamp (1 on creation, +1 on each save)
// and __timestamp (last save, UTC). Dates are stored as fixed-width RFC 3339 text in UTC, uuids
// as 32 upper-case hex digits (4D's form), objects as JSON text, booleans as 0/1. Indexed
// attributes, keys and foreign keys are indexed; strings on their case-folded form. Every
// string-valued column X has two shadow columns that gatehouse computes on each write:
// __fold_X (X case-folded, what queries compare, sort and index) and __words_X (its folded
// words, for '%'); see shadow.go. Write through gatehouse only: another SQL client would leave
// them stale. The table
// __gatehouse_schema records what each column was created as: Open and SetModel add tables,
// columns and indexes, never drop any (a removed attribute keeps its column and data), and
// refuse a model that changes a primary key or an attribute's type (ErrIncompatibleModel).
// The file runs in WAL mode with a busy timeout and foreign keys on; one connection writes
// (writes are serialised), a pool of query-only connections reads concurrently. Stamps are
// checked inside the UPDATE itself (WHERE key = ? AND __stamp = ?), so two concurrent saves of
// the same version cannot both succeed. Dropping an entity clears the references others hold
// to it (their stamps grow). A call that cannot get the file's lock within the busy timeout
// (another process holds it) fails with an error of kind errkind.Unavailable.
//
// OpenSeeded seeds a new database (seed.json) all or nothing: a failed seed closes it and
// removes its files, so the next start seeds again.
//
// Format 1 files (before shadow columns, when strings were folded by a SQLite function in
// expression indexes) are migrated on open, in the schema transaction: shadow columns added
// and filled, the function indexes replaced.
//
// # PostgreSQL
//
// Open with a postgres:// (postgresql://) URL of an existing database uses PostgreSQL through
// the dialect interface (dialect.go; dialect_sqlite.go, dialect_postgres.go hold every
// backend-specific piece). The answers are the same as SQLite's, because nothing that decides
// an answer is left to the backend: folding and words are computed in Go (shadow columns, text
// COLLATE "C", compared byte-wise as SQLite does), nulls are ordered as in SQLite (first
// ascending, last descending), prefixes are ranges with a valid UTF-8 upper bound, and a page
// and its count are read in one REPEATABLE READ snapshot. Types: long bigint, number double
// precision, bool boolean, strings, dates (the same fixed-width text), uuids and objects
// (JSON text) text COLLATE "C"; an autoincrement key is an identity, moved past keys given
// explicitly (as seed.json does) so generated keys never collide. Schema changes and the seed
// hold an advisory lock, so instances starting or reloading together take turns; seed.json is
// loaded once per database (a row in __gatehouse_meta records it), all or nothing. Names
// longer than 63 bytes are refused (PostgreSQL would cut them); names gatehouse derives
// (shadow columns, indexes) are shortened with a hash. One pool serves reads and writes;
// saves lock what they check (FOR UPDATE, FOR KEY SHARE), and a stamp is still checked inside
// the UPDATE. Errors are classified as on SQLite: serialisation failures and deadlocks are
// errkind.Conflict, a lost connection, a server starting or out of connections
// errkind.Unavailable, a cancelled statement errkind.Timeout. Strings holding NUL cannot be
// stored in PostgreSQL (a *ValueError); queries may still mention NUL.
//
// # Query language
//
// Used by Query.Filter (REST $filter, ds.X.query):
//
//	query       = [ orExpr ] .
//	orExpr      = andExpr { ( "OR" | "|" | "||" | "EXCEPT" ) andExpr } .
//	andExpr     = unary { ( "AND" | "&" | "&&" ) unary } .
//	unary       = "NOT" unary | "(" orExpr ")" | comparison .
//	comparison  = path operator value .
//	path        = name { "." name } .
//	operator    = "=" | "==" | "===" | "!=" | "#" | "!==" | "<" | "<=" | ">" | ">=" | "%"
//	            | "IS" [ "NOT" ] | "IN" | "BEGIN" .
//	value       = string | number | "true" | "false" | "null" | placeholder | array .
//	array       = "[" [ value { "," value } ] "]" .
//	placeholder = ":" digit { digit } .
//
// Keywords are case-insensitive; names are not. Strings are 'single' or "double" quoted; a
// backslash escapes the quote and itself. Precedence: NOT binds tightest, then AND, then OR and
// EXCEPT (equal, left to right); parentheses group. "a EXCEPT b" is "a AND NOT(b)".
//
// Operators:
//
//	=  ==        equal; in strings '@' is a wildcard: 'A@' starts with A, '@a@' contains a
//	!= #         not equal (exactly NOT(=), so it includes nulls); '@' is a wildcard
//	=== IS       equal, '@' is an ordinary character
//	!== IS NOT   not equal, '@' is an ordinary character
//	< <= > >=    order (strings, numbers, dates, booleans)
//	BEGIN        the string starts with the value ('@' is ordinary)
//	IN           equal to one element of an array: [1, 2] or a placeholder holding an array;
//	             string elements may use '@'; a null element matches null
//	%            contains the keyword: the value's words appear as whole words, in order
//	             ("% 'john'" matches "Mr John Smith", not "Johnson"); a final '@' matches a
//	             word's start ("% 'john@'" matches "Johnson")
//
// "attr = null" / "attr IS null" match null values, "!= null" non-null ones; null with any
// other operator is an error. The semantics are those of sets, as in 4D: a null attribute
// matches no comparison but "= null", and NOT(x) is every entity x does not match.
//
// String comparisons ignore case, for all of Unicode (simple case mapping: 'É' = 'é',
// 'Σ' = 'σ' = 'ς'), not only ASCII: gatehouse folds in Go and stores and indexes the folded
// form beside each string (shadow columns), on both backends. Accents matter ('e' ≠ 'é'). String primary
// keys compare the same way in queries; Get matches a key exactly.
//
// Unquoted values. As in 4D's own examples, a value may be written without quotes where
// that is unambiguous: exactly when it is one word made of letters, digits, '_' and '@'
// that starts with a letter, '_' or '@' (so not a number: 12 stays the number 12) and is
// not a keyword of the language (AND, OR, EXCEPT, NOT, IS, IN, BEGIN, TRUE, FALSE, NULL,
// ASC, DESC, in any case). It is then the string it spells: "lastName=Smith" is
// "lastName = 'Smith'", "name begin j" is "name begin 'j'", "employer.name!=acme" and
// "lastName = sm@" (a wildcard) too; elements of an IN array follow the same rule. Anything
// else — spaces, punctuation, a leading digit, a keyword — needs quotes or a placeholder.
//
// Values are converted to the attribute's type: numbers for long and number (a numeric string
// such as "12" is accepted), true/false for bool, 'YYYY-MM-DD' or RFC 3339 strings for dates,
// any usual spelling of a UUID for uuid. Object attributes themselves compare only with
// null; paths into them ("info.size > 10", "info.tags.main = 'x'", also in OrderBy) compare
// the value at those keys, typed (see objectpath.go): numbers with JSON numbers, strings
// with JSON strings exactly (no case folding, no '@' wildcard: keys inside objects have no
// shadow columns), true/false with JSON booleans, and "= null" matches a JSON null or a
// missing key; IN, BEGIN and % do not apply. Ordering by such a path sorts by the number,
// then by the string (non-numbers are nulls for the first). A
// relatedEntity attribute compares its foreign key ("employer = 3", "employer = null").
//
// Paths follow relatedEntity attributes ("employer.name", "employer.parent.name"), as LEFT
// JOINs: an entity without employer has a null employer.name. A path through a
// relatedEntities attribute ("staff.name = 'Ann'") matches the entities with at least one
// related entity satisfying the comparison; each comparison is tested on its own, so
// "staff.name = 'Ann' AND staff.age > 60" may be satisfied by two different members.
//
// Placeholders :1, :2… take Query.Params in order (1-based). Their values are bound, never
// written into SQL; nothing from the query text reaches SQL but names checked against the model
// and the keys of object paths, which must be identifiers (letters, digits, '_').
//
// Errors are *QueryError with a reason — ReasonSyntax, ReasonPlaceholderMissing,
// ReasonWrongType (a value or placeholder that does not fit the attribute, an operator that
// does not apply to it), ReasonUnknownAttribute — and the byte offset of the culprit. Their
// kind (errkind.Of) is NotFound for an unknown attribute, Invalid otherwise; mapping them to
// protocol codes is the caller's business.
// Limits: 8 KiB of text, 64 levels of nesting, 16 names per path, 32 relations per query,
// 30 000 bound values, 16 order-by terms.
//
// # Order by
//
// Query.OrderBy is a comma-separated list of paths through relatedEntity attributes, each
// optionally followed by ASC or DESC: "lastName, firstName desc, employer.name". Strings sort
// case-insensitively, nulls first when ascending. Ties are broken by the primary key, so pages
// never overlap.
package datastore
