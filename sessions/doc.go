// Package sessions holds gatehouse's web user sessions: the session record, the Store
// interface that keeps them (in memory today, a networked store later), idle timeouts and
// expiry, the licence pool, the bound on guest sessions, login-attempt counters, one-time
// passcodes and the signed session cookie value.
//
// The Store is the single source of truth. Every operation on it is whole-session and
// atomic, and licences are part of it: a licence is taken together with the session that
// holds it and released exactly once, when that session is deleted, expires or is evicted.
// "Licences held" is therefore always "licensed sessions alive", whatever the interleaving.
//
// Manager puts policy on top of a Store: the clock, the idle-timeout clamp, the licence cap,
// ID generation and rotation, and the background sweeper.
package sessions
