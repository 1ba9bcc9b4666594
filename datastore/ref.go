package datastore

// SelectionRef describes an entity selection without reading it: the entities of DataClass
// that match Filter (with Params) and, when InKeys, whose keys are in Keys (an entity set),
// in OrderBy's order. The REST layer hands one to a script as the this of an
// entity-selection function or as a selection parameter; the script's ds objects read it
// lazily.
type SelectionRef struct {
	DataClass *DataClass
	Filter    string
	Params    []any
	OrderBy   string
	InKeys    bool
	Keys      []string
}
