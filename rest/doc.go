// Package rest is the 4D REST protocol over gatehouse's core, and nothing else: the router
// (gorilla/mux), the middleware chain (recover, request ID, access log, cross-origin
// protection and CORS, body limit), parsing requests (login headers and bodies, data URLs,
// query options), shaping 4D's JSON (entities, selections, $catalog, $info), carrying out
// the core's cookie decisions, and the one error funnel that maps errors — by identity and
// by kind — to HTTP statuses and 4D error stacks.
//
// Who may do what is not decided here: every route declares the core.Access it needs, and
// logins, sessions, function calls and permission checks are the core's use cases
// (gatehouse/core).
package rest
