// Package engine runs the JavaScript of a gatehouse app. An Engine is the
// host: it loads and compiles the scripts folder into an immutable script set
// (*Scripts), hands out sandboxed goja runtimes from a pool, and calls the
// exported functions of a set with a time limit. It keeps no set of its own:
// the caller owns the sets, pins one per request and swaps them on reload.
//
// The rest of this comment is the contract for script authors.
//
// # Files
//
// Scripts live in the app's scripts/ folder and are CommonJS modules:
//
//	scripts/DataStore.js             exports.authentify = function (credentials) {...}
//	                                 datastore functions: POST /rest/$catalog/{name}
//	scripts/onRESTAuthentication.js  module.exports = function (user, password, isDigest, ip) {...}
//	                                 $directory/login and HTTP Basic; return true to accept
//	scripts/{DataClass}.js           dataclass functions: POST /rest/{DataClass}/{name};
//	                                 exports.entity.fn: POST /rest/{DataClass}({key})/fn, this = the entity;
//	                                 exports.selection.fn: POST /rest/{DataClass}/fn?$filter=…, this = the selection
//	scripts/singletons/{Name}.js     singleton functions: POST /rest/$singleton/{Name}/{name}
//	scripts/lib/**.js                helpers, loaded with require('./lib/x')
//
// Every .js file under scripts/ is compiled when the server starts and again
// on every reload; names starting with a dot are skipped. A set with a syntax
// error anywhere is refused as a whole, with file:line for each problem
// ("gatehouse check" prints them): at start the server does not start, on
// reload the previous set stays active.
//
// Only regular files are read. A .js name that is a FIFO, a device or a
// socket is an error and is never opened. Symbolic links are followed only
// inside scripts/ and must be relative: a link that leads outside, or an
// absolute one, is an error (a symbolic link to a folder inside scripts/
// works; a loop is an error). A file may be at most 4 MiB, and a set at most
// 32 MiB in 10 000 files and folders.
//
// Scripts run in strict mode, as if every file began with "use strict".
// A file's top level may not return (wrap such code in a function).
//
// # Exports
//
// Only functions exported by a top-level file (or a file of singletons/) can
// be called over REST: they are 4D's exposed functions. Each has a Scope:
// ModuleScope for exports.fn, EntityScope for exports.entity.fn and
// SelectionScope for exports.selection.fn; Engine.CallOn calls the last two
// with a this that a Global implementing Importer makes (ds turns a
// *datastore.Entity or a datastore.SelectionRef into its own objects). Everything else in a file is private:
//
//	function check(user) { ... }                 // private
//	exports.authentify = function (c) { ... }    // POST /rest/$catalog/authentify
//	exports.list = function () { ... }
//	exports.list.onHttpGet = true                // GET allowed too, arguments from ?$params='[...]'
//
// module.exports = {...} works as in Node. The exports are read when the set
// is loaded: a function added later, inside a call, is not callable.
//
// Arguments arrive as JSON values (objects, arrays, strings, numbers,
// booleans, null). The return value is sent as JSON: it may be any JSON
// value, a Date (sent as an ISO-8601 string), an object with a toJSON
// method, a promise (an async function) that settles during the call, or a
// datastore entity or selection. undefined is sent as null; object
// properties that are undefined are left out. A result that JSON cannot
// represent faithfully is an error, not a silent loss: NaN, Infinity,
// functions, symbols, BigInts, cycles, Map, Set, RegExp and typed arrays.
//
// # Modules and require
//
// require('./x'), require('../lib/x') and require('./lib/x.js') resolve
// relative to the requiring file; ".js" is optional and a folder means its
// index.js. Only files inside scripts/ can be required: absolute paths,
// paths that climb out of scripts/, bare names such as 'fs', and symbolic
// links that lead outside are refused. __filename and __dirname are
// relative to scripts/ ("lib/users.js", "lib").
//
// Every call starts from fresh modules: nothing a call leaves in module
// variables is seen by the next call. Keep state in Session.storage (per
// session) or in the datastore. How that is done depends on the module:
//
//   - A module that only declares is shared: its top level defines
//     functions, binds names (const, let or var, never assigned again) to
//     literals, functions or required modules, and assigns functions to
//     exports (and properties such as onHttpGet to them), and everything it
//     requires at its top level is shared too. It runs once per runtime and
//     script set, and then everything it made (its exports, its functions
//     and their prototypes, its require) is frozen: a call that tries to
//     change one of them gets a TypeError, as with the built-ins.
//   - Any other module (a let counter, a cache object, exported data, a
//     top-level call) runs its top-level code again in each call that
//     requires it, so its state is the call's own.
//
// Modules' top-level code also runs once when the set is loaded, to read
// the exports. At that moment there is no session (Session is null) and ds
// is not available: use ds inside functions, not at the top level.
//
// # Globals
//
// The sandbox has the standard JavaScript built-ins (Object, Array, JSON,
// Math, Date, Promise, Map, ...) and these globals, nothing else: no file
// system, no network, no process, no environment, no timers.
//
//	Session                              the caller's session, or null when there is none
//	ds                                   the datastore (see the datastore package)
//	console.log/info/warn/error/debug    write to the server log, with the file and line
//	verifyPasswordHash(password, hash)   bcrypt check: true or false (false for a malformed hash)
//	generatePasswordHash(password, {cost})  bcrypt hash; cost 4 to 31, default 10
//	generateDigest(text, algorithm)      hex digest of text's UTF-8 bytes; "sha256", "sha512", "md5", "sha1"
//	require(path)                        relative to scripts/ when called through globalThis
//
// bcrypt uses the first 72 bytes of a password; longer passwords are cut
// there by both helpers.
//
// The built-ins are frozen: assigning to Array.prototype, JSON or
// globalThis throws a TypeError. Ordinary code is not affected: naming an
// error (err.name = 'AuthError'), using a plain object as a dictionary
// (dict.constructor = 1) and defining classes all work.
//
// # Session
//
//	Session.setPrivileges(p)   p: "name" | "a, b" | ["a", "b"] |
//	                           {privileges, roles, userName, fullName, userID};
//	                           names unknown to roles.json are ignored; false when no
//	                           licence is free (force login mode); otherwise true
//	Session.hasPrivilege(name) after includes expansion and roles
//	Session.getPrivileges()    every held privilege, expanded
//	Session.clearPrivileges()  drops privileges (in force login mode the session stays non-guest)
//	Session.isGuest()          true until privileges were set once (force login mode)
//	Session.createOTP(seconds) a one-time passcode for ?$4DSID=; lifespan optional
//	Session.restore(token)     true when token restored a session
//	Session.logout()           closes the session when the call ends
//	Session.id                 the session ID
//	Session.userName           the user name
//	Session.idleTimeout        minutes; assign to change it (the server clamps it)
//	Session.expirationDate     ISO-8601, UTC
//	Session.info               a copy of the session's description
//	Session.storage            an object kept with the session across requests
//
// Session.storage holds JSON values only: at the end of each call it is
// converted with JSON.stringify and stored when it changed (functions and
// undefined values are dropped on the way). Changes made before a script
// error are kept. Session.storage may be replaced by another object. The
// REST server merges what a call changed key by key (top-level keys) into the
// stored object, so two calls of one session running at once that change
// different keys both keep their change; for the same key, the last one wins.
//
// # Limits and errors
//
// A call may run for Options.Timeout (the server's --script-timeout, 5s by
// default); then it is interrupted and the client gets 503. At most
// Options.MaxConcurrent calls (four per CPU) run at once; a call that finds
// them all busy waits up to the same timeout, then gets 503 too. The call stack
// is limited to Options.MaxCallStack frames (1000 by default); deeper
// recursion is an error. A call whose request is cancelled (the client went
// away) is interrupted within 50 ms; slow helpers (bcrypt) stop waiting at once.
//
// The timeout also bounds regular expressions. goja runs most of them on Go's
// regexp package, in linear time; those that need backtracking
// (backreferences such as \1, lookahead and lookbehind) or that search from a
// lastIndex past 0 run on a backtracking engine, where a pattern such as
// /^(a+)+\1$/ can take hours on a short string. Such a match is stopped
// once it has run for the timeout plus a second, and the call gets 503 like
// any call that ran out of time: a call that starts with such a match ends
// after about its timeout plus a second, and none runs for more than twice
// its timeout plus a second. The script never goes on with the stopped
// match's answer. With several engines in one process (regexp2 has one
// bound for all), the longest of their timeouts counts.
// One exception: split with a RegExp subclass (or a regular expression whose
// constructor property was replaced) runs one such match per position of the
// string.
//
// Memory is bounded for the whole server, not per call (goja cannot count
// what one call allocates): when the Go heap passes Options.MaxHeap (three
// quarters of GOMEMLIMIT, else 1 GiB), every call that has run for more than
// a tenth of a second is stopped and the client gets 503. A single built-in
// call that does a huge amount of work in one step (new Array(1e9).fill(0),
// "x".repeat(2 ** 30), JSON.stringify of a deeply shared structure) runs to
// its end whatever the timeout or the memory bound: neither can interrupt
// native code.
//
// A value thrown out of a called function becomes a 500 answer. The server
// log gets the file, line and message; the client gets a generic message,
// unless the script threw an Error whose expose property is true:
//
//	const err = new Error('Wrong password')
//	err.expose = true
//	throw err
//
// # Go API
//
// New makes the host (the runtime pool, the sandbox, the limits); it reads no
// script. Load reads, compiles and inspects the scripts folder and returns a
// *Scripts, or an ErrorList of every problem; a missing folder is an empty
// set, and so is a nil *Scripts. A *Scripts is immutable and is what a caller
// asks about (HasAuthentication, Function, Functions, Modules, Has) and runs:
// Call runs an exported function of a set, Authenticate runs its
// onRESTAuthentication. "gatehouse check" is a Load of the whole app folder
// (gatehouse/core.Check).
//
// Reload is the caller's: it calls Load (with a context, which a newer reload
// may cancel), validates the new set with the rest of its configuration, and
// swaps its own pointer only if all is well. Calls in flight keep the
// *Scripts they were given, to their end (including modules they require
// after the swap); new calls get the new one. A rejected set changes nothing.
//
// A *ScriptError reports a problem in a script (with file, line and whether
// its message may be shown); ErrTimeout, ErrMemoryLimit, ErrNoFunction and
// the request context's error are returned wrapped; any other error is an
// internal failure (for example a Session method that failed), never
// something a script can catch. Once a call's deadline has passed, nothing of
// it counts: its result is replaced by ErrTimeout, host functions
// (Session...) do nothing, and Session.storage is not written.
//
// Runtimes are pooled and reused. Each is hardened once when created: host
// globals are installed, then every object reachable from the global object
// is frozen and the global object itself cannot be extended. Per-call
// state (the session, Options.Globals values, the module cache) is reached
// through accessors that read the running call, so a runtime carries nothing
// from one call to the next. A runtime that was interrupted or overflowed its
// stack is dropped rather than reused.
package engine
