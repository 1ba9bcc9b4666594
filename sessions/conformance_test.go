package sessions_test

import (
	"testing"

	"gatehouse/sessions"
	"gatehouse/sessions/sessionstest"
)

// TestMemoryStoreConformance runs the store conformance suite against the memory store.
func TestMemoryStoreConformance(t *testing.T) {
	sessionstest.Run(t, func(t *testing.T, o sessionstest.Options) sessions.Store {
		return sessions.NewMemoryStore(o.MaxGuests)
	})
}
