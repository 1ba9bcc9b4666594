package server

import (
	"context"
	"fmt"
	"strings"

	"gatehouse/sessions"
	"gatehouse/sessions/redisstore"
)

// openStore opens the session store cfg.Store names: "" or "memory" for this process's
// memory, redis:// or rediss:// for a Redis that several instances share (SPEC §4.4).
// Opening a Redis store checks that Redis does not evict keys and that this instance's
// --licenses is the cluster's; a Redis that cannot be reached at start is an error (the
// caller retries, or the service manager restarts the process).
func (s *Server) openStore(ctx context.Context) (sessions.Store, error) {
	u := s.cfg.Store
	switch {
	case u == "" || u == "memory":
		return sessions.NewMemoryStore(s.cfg.MaxGuestSessions), nil
	case strings.HasPrefix(u, "redis://"), strings.HasPrefix(u, "rediss://"):
		st, err := redisstore.Open(ctx, redisstore.Options{
			URL: u, Licences: s.cfg.Licenses, MaxGuests: s.cfg.MaxGuestSessions, Namespace: s.cfg.StoreNamespace,
		})
		if err != nil {
			return nil, fmt.Errorf("--store: %w", err)
		}
		return st, nil
	}
	return nil, fmt.Errorf("--store %q: want memory, redis://host:port/db or rediss://…", redactStore(u))
}

// redactStore hides a password in a store URL for messages.
func redactStore(u string) string {
	if i, j := strings.Index(u, "://"), strings.LastIndex(u, "@"); i >= 0 && j > i {
		return u[:i+3] + "…@" + u[j+1:]
	}
	return u
}

// storeKeys are the cookie keys held by a shared store, when the store can hold them.
func (s *Server) storeKeys(ctx context.Context) ([]sessions.KeyPair, bool, error) {
	sec, ok := s.store.(sessions.Secrets)
	if !ok {
		return nil, false, nil
	}
	keys, err := sessions.LoadOrCreateStoreKeys(ctx, sec)
	return keys, true, err
}
