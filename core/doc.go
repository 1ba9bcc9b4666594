// Package core is gatehouse's transport-free application core: the product's rules, with
// no HTTP in sight (SPEC §1).
//
//   - The generation (Generation): roles.json, model.json and the scripts, loaded and
//     cross-validated as one unit and swapped through one atomic pointer (App.Reload). A
//     request pins one generation (App.NewRequest) and uses it to the end.
//   - The resolver (Generation.Resolve): the one map from a function URL's (kind, name) to
//     the script module, the function and the permission resource that guards it. No other
//     file names the reserved modules (DataStore, onRESTAuthentication) or authentify.
//   - The use cases, as methods of Request: resume or open a session (Open, with the
//     route's declared Access), log in (Login, Basic), call a function (Call), log out
//     (Logout), and the permission gate (Allowed, Permit, Holds).
//   - The script session: the engine.Session a script acts on, committed back to the store
//     in one atomic update after the call.
//
// The core returns decisions as values — "set the cookie to this ID", "expire it"
// (Request.Cookie) — and errors with kinds (ErrGuest, *PermissionError, ...); the rest
// package turns them into headers and 4D error stacks. A request that ends in an error is
// undone with Request.Abandon, so that a refused request takes no session and no licence.
package core
