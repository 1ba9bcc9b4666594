// Package dsjs is the "ds" global of gatehouse scripts (SPEC §5.5): 4D's datastore object,
// in JavaScript, over package datastore. The engine installs it through its Global interface
// (New(db) has Name "ds"); Value builds the object for one script call, with the request's
// context, which every database call of the call uses. Scripts are trusted server code: they
// see every dataclass and attribute, whatever roles.json says (permissions apply to REST
// callers).
//
// This comment is the reference for script authors.
//
// # Dataclasses
//
// ds.<DataClass> exists for every dataclass of model.json, as loaded when the call started
// (a reload applies to the next call); any other ds.X is undefined. A dataclass has:
//
//	ds.Users.query("name = :1 and age > :2", name, 18) // a selection of the matching entities
//	ds.Users.all()                                     // a selection of every entity
//	ds.Users.get(12)                                   // the entity with that key, or null ("12" works too)
//	ds.Users.new()                                     // a new entity, stored by its save()
//
// query() takes 4D's query language, documented in package datastore: "name = 'A@'",
// "employer.name = :1", "age IN :1", "NOT(active = true)"… Placeholders :1, :2… take the
// following arguments: strings, numbers, booleans, null, Dates, arrays (for IN) and entities
// (their key: query("employer = :1", company)).
//
// # Selections
//
// A selection is lazy: it is a description (dataclass or 1→N relation, query, order, window)
// and the database is read only when the script asks for a count or for entities. So
//
//	sales.customers.orderBy("totalPurchase desc").slice(0, 3)
//
// reads only the three entities, in one datastore query, when it is used. Errors in the query
// or in the order (syntax, unknown attribute, a value of the wrong type, a missing parameter)
// are thrown when the selection is first read (length, first(), toArray()…).
//
//	sel.length                    // how many entities (one count)
//	sel.first()                   // the first entity, or null (reads one entity)
//	sel.orderBy("name, age desc") // a selection in that order (ties in key order)
//	sel.slice(start, end)         // as Array.prototype.slice: end excluded, negative from the end
//	sel.toArray()                 // an array of entities
//	sel[0]                        // the entity at an index, or undefined (reads one entity)
//	for (const e of sel) {…}      // iteration (reads the whole selection first)
//	JSON.stringify(sel)           // an array of plain objects (toJSON: toObject() of each)
//	sel.isSelection               // true
//
// toArray(), iteration and toJSON() read at most the datastore's MaxTop entities (10 000 by
// default): slice() a bigger selection into pages. Only negative slice() indexes need a count.
// orderBy() on a sliced selection reads the keys of its entities (up to MaxTop) and orders
// those entities; for dataclasses with string keys, keys that differ only by case (or that
// contain '@') are then matched as the query language matches strings. A selection cannot be
// changed: its properties are read-only.
//
// # Entities
//
// An entity has its attributes as properties, and methods:
//
//	user.name = "Ann"             // storage attributes: read and assign
//	user.save()                   // stores the changes; returns the entity (key, stamp refreshed)
//	user.drop()                   // deletes it
//	user.toObject()               // a plain object of its values; toJSON() is the same
//	user.getKey()                 // its primary key (null until saved)
//	user.getStamp()               // 0 when new, then 1, 2… with each save
//	user.isNew()                  // true until saved
//
// Values: string and uuid attributes are strings (uuids as 32 upper-case hex digits), long
// and number attributes numbers, bool booleans, date attributes Date objects, object
// attributes plain objects or arrays, null for no value. An object or a Date read from an
// entity can be changed in place (user.prefs.theme = "dark"; user.born.setUTCFullYear(1990))
// and save() stores the change; the same holds for one assigned to it. The datastore checks
// the values on save(), so a wrong type (user.age = "old") throws there, naming the attribute.
// Assigning an unknown attribute, a 1→N relation, or the key of a saved entity throws at
// once.
//
// Relations: an N→1 attribute (relatedEntity) reads as the related entity or null, and takes
// an entity of the right dataclass, its key, {__KEY: key} or null: customer.salesPerson = ann.
// The related entity must have been saved. A 1→N attribute (relatedEntities) reads as a lazy
// selection (the entities whose N→1 points back), empty for an entity never saved; it is
// changed from the other side. Reading the same relation twice gives the same object until
// the entity is saved.
//
// toObject() holds every storage attribute (the key attribute included) and each N→1
// attribute as {__KEY: key} or null, as 4D writes it; 1→N attributes are left out, and so
// are the entity's own __KEY and __STAMP (use getKey() and getStamp()). Object.keys(entity)
// lists every attribute.
//
// save() on an entity without changes does nothing. save() and drop() refuse to overwrite
// someone else's work: if the entity was saved (or dropped) since it was read, they throw
// "…the entity was changed or dropped by someone else since it was read…"; get it again and
// retry. After save(), reads see the stored values (an object or a Date read before save()
// is no longer linked to the entity).
//
// Method names win over attributes: an attribute called save, drop, toObject, toJSON, getKey,
// getStamp or isNew can only be read through toObject().
//
// # Errors
//
// Failures are thrown as Error (a wrong argument or assignment as TypeError), with a message
// that names the operation and the cause:
//
//	Users selection.first(): filter at offset 0: unknown attribute "nmae" in dataclass Users
//	Customers(3).save(): attribute "totalPurchase": expected a finite number, got a string
//
// Once the request is cancelled or timed out, every further database call throws
// ("…: the request was cancelled").
//
// # For Go callers
//
// The Go value behind an entity object has DatastoreEntity() *datastore.Entity and the one
// behind a selection object DatastoreSelection(ctx, limit) (*datastore.Selection, error), so
// the REST layer can answer a function returning either in 4D's shapes (goja's Export()
// returns that value). They hold only Go values and may be used after the call has ended.
// Nested in a result (an array of entities), an entity marshals to JSON as toObject() does;
// a nested selection fails to marshal with ErrNestedSelection instead of writing {}.
//
// The other way, Global.Import (the engine's Importer) makes the script object of a Go value
// the REST layer passes to a function as its this or as a parameter: a *datastore.Entity
// becomes an entity, a datastore.SelectionRef (a query, or the keys of an entity set) a
// selection that is read lazily like any other.
package dsjs
