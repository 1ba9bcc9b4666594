// Package sessions holds gatehouse's web user sessions: the session record, the store
// interfaces that keep them, idle timeouts and expiry, the licence pool, the bound on guest
// sessions, login-attempt counters, one-time passcodes and the signed session cookie value.
//
// The store is the single source of truth, cut into one small interface per concern
// (Sessions, Licences, Counters, Tokens; Store is all of them) whose contracts are written
// in store.go: every operation atomic, update functions that may run more than once, Close
// that releases only this instance's resources. Licences are part of it: a licence is
// taken together with the session that holds it and released exactly once, when that
// session is deleted, expires or is evicted. "Licences held" is therefore always
// "licensed sessions alive", whatever the interleaving — across a whole cluster when the
// store is shared.
//
// Two stores implement it: MemoryStore (one process) and redisstore.Store (several
// instances sharing one Redis). Package sessionstest is the conformance suite both pass.
// Optional capabilities a store may add: Secrets (keys shared by a cluster) and
// CounterBatch (the throttle's counter operations of one login step in one round trip;
// HitAll and Settle use it when the store has it, one call per key otherwise).
//
// Manager puts policy on top of a Store: the clock, the idle-timeout clamp, the licence cap,
// ID generation and rotation, and the background sweeper.
package sessions
