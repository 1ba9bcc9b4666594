// Package roles reads roles.json, the file that declares an app's privileges
// and roles and which of them may do what (SPEC §6), and answers permission
// questions on every REST request.
//
// # The file
//
//	{
//	  "privileges": [{"privilege": "vip", "includes": ["reader"]}, {"privilege": "reader"}],
//	  "roles": [{"role": "Sales", "privileges": ["vip"]}],
//	  "permissions": {"allowed": [
//	    {"applyTo": "ds", "type": "datastore", "read": ["reader"]},
//	    {"applyTo": "Users", "type": "dataclass", "read": ["vip"], "update": ["vip"]},
//	    {"applyTo": "Users.password", "type": "attribute", "read": ["WebAdmin"]},
//	    {"applyTo": "ds.authentify", "type": "method", "execute": ["guest"]}
//	  ]},
//	  "forceLogin": true,
//	  "restrictedByDefault": false
//	}
//
// Every key is optional; a missing file is [Default]: default login mode,
// everything open.
//
// Names. Privilege and role names are case-insensitive and share one
// namespace (a role may not be named like a privilege), so that a name means
// the same thing wherever a script or client uses it; they are spelled as
// declared in every answer. A name may not be empty, have surrounding white
// space, or contain a comma (Session.setPrivileges splits strings at commas).
// Dataclass, attribute and function names are case-sensitive identifiers.
//
// Reserved names. [WebAdmin] is always declared; it may be declared
// explicitly, to give it includes, and keeps that spelling. [Guest] is a
// pseudo privilege every session holds: listing it opens an action to
// everyone. It cannot be declared, nor can either name a role.
//
// includes. A privilege holds everything it includes, transitively. Cycles
// are an error. A role grants its privileges and what they include.
//
// permissions.allowed. Each entry names one resource, by "type" and
// "applyTo" ("datastore": "ds"; "dataclass": "Users"; "attribute":
// "Users.password"; "method": "ds.authentify" or "Users.fn" — a dataclass,
// entity or entity-selection function; "singleton": "Cart"; "singletonMethod":
// "Cart.fn"), and for some actions the privileges that may perform them.
// Actions apply by type: read, create, update and drop to the datastore,
// dataclasses and attributes; execute and promote to methods and singleton
// methods, and to the datastore, dataclasses and singletons as the default of
// all their functions (a singleton method: its own setting, else its
// singleton's, else the datastore's). An empty list means nobody. At most one
// entry per resource.
//
// # Resolution
//
// [Config.Allowed] decides one action on one resource for the privileges a
// session holds (the output of [Config.Expand]; guest is always held):
//
//   - a dataclass-level setting of an action overrides the datastore level;
//   - an attribute-level setting adds a condition: the dataclass (or
//     datastore) level must allow too;
//   - a method is governed by its own execute setting, else its dataclass's,
//     else the datastore's; promote falls back the same way ([Config.Promoted]);
//   - update and drop also need read on the same resource;
//   - an action with no setting at any level is open, unless
//     restrictedByDefault is true, in which case it is closed;
//   - a setting allows a session holding any listed privilege, and everyone
//     when it lists guest.
//
// # Validation
//
// [Parse] returns either a valid [Config] or an [ErrorList] holding every
// problem found, each with the line, column and JSON path of the offending
// text. Unlike 4D, which disables protection when roles.json is broken, a
// broken file never yields an open configuration: unknown keys, actions and
// types, wrong JSON types, duplicate keys, malformed applyTo, references to
// undeclared privileges, duplicate names or permission entries, and includes
// cycles are all errors.
//
// A [Config] is immutable and safe for concurrent use. Permission checks are
// precomputed at parse time: Allowed does not allocate when the held names
// are spelled as declared.
package roles
