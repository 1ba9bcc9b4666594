package datastore

import (
	"fmt"
	"strconv"
	"time"
)

// Entity is one record of a dataclass.
type Entity struct {
	DataClass *DataClass
	// Key is the primary key: int64 for long keys, string for string and uuid keys; nil for an
	// entity not saved yet.
	Key any
	// Stamp starts at 1 when the entity is created and grows by one on every save; 0 means new.
	Stamp int64
	// Timestamp is the time of the last save, in UTC.
	Timestamp time.Time
	// Values holds storage attributes by name (string, int64, float64, bool, time.Time for dates,
	// string for uuids, decoded JSON for objects, nil for null) and, for relatedEntity
	// attributes, the foreign key (nil when there is no related entity). The key attribute is
	// included. On save, values may also come as decoded JSON (float64 for numbers, strings for
	// dates) and a relatedEntity may be given an *Entity or {"__KEY": ...}.
	Values map[string]any
}

// KeyString returns the key as written in URLs and in "__KEY" ("12"); "" for a new entity.
func (e *Entity) KeyString() string {
	switch k := e.Key.(type) {
	case nil:
		return ""
	case string:
		return k
	case int64:
		return strconv.FormatInt(k, 10)
	default:
		return fmt.Sprint(k)
	}
}

// NewEntity returns a new, unsaved entity of dc with every storage and relatedEntity attribute
// set to nil (null). Save fills in a generated key.
func (dc *DataClass) NewEntity() *Entity {
	values := make(map[string]any, len(dc.Attributes))
	for _, a := range dc.Attributes {
		if a.hasColumn() {
			values[a.Name] = nil
		}
	}
	return &Entity{DataClass: dc, Values: values}
}

// Query selects entities of a dataclass.
type Query struct {
	// Filter is a query in 4D's language (see the package documentation); "" matches all.
	Filter string
	// Params are the values of placeholders :1, :2…: JSON-decoded values (string, float64, bool,
	// nil, []any) or Go values (integers, time.Time, slices).
	Params []any
	// OrderBy is "a desc, b asc, employer.name"; entities with equal sort values come in key
	// order, so paging is stable.
	OrderBy string
	// Skip and Limit page the result; Limit 0 means no limit of the caller's own (Find still caps
	// it at Options.MaxTop). Negative values count as 0.
	Skip, Limit int
	// Visible, when set, hides attributes from Filter and OrderBy: an attribute for which it
	// returns false is reported as unknown (ReasonUnknownAttribute). REST uses it for attributes
	// that are not exposed or that the session may not read, so that a filter cannot probe them.
	Visible func(dc *DataClass, a *Attribute) bool
	// InKeys, when true, restricts the query to the entities whose key (written as in URLs,
	// Entity.KeyString) is in Keys: a query inside an entity set. The list is bound as one
	// parameter, whatever its length.
	InKeys bool
	Keys   []string
	// NoCount tells Find that the caller needs the page only: it then does not count the
	// matches (Selection.Count is -1 unless the page itself tells it, being short) and reads
	// outside a transaction.
	NoCount bool
}

// Selection is one page of the entities matching a query.
type Selection struct {
	DataClass *DataClass
	Entities  []*Entity
	Count     int // every match, before Skip and Limit (-1: not counted, see Query.NoCount)
	First     int // index of Entities[0] among all matches (the Skip applied)
}
