package sessions

import (
	"context"
	"time"
)

// ToucherInto is an optional capability of a store: Touch writing the session into one
// the caller holds, so that the session check a request makes allocates no Session. The
// memory store has it.
type ToucherInto interface {
	// TouchInto is Touch, with the session written into dst (every field of dst is
	// overwritten) instead of returned. On an error dst is left as it was.
	TouchInto(ctx context.Context, id string, now time.Time, dst *Session) error
}

// TouchInto is Touch into dst when the store is a ToucherInto: it returns dst then, and
// the store's own copy otherwise. The session returned follows Store's rules either way
// (a copy whose lists and storage are never written in place).
func (m *Manager) TouchInto(ctx context.Context, id string, dst *Session) (*Session, error) {
	t, ok := m.store.(ToucherInto)
	if !ok {
		return m.Touch(ctx, id)
	}
	if err := t.TouchInto(ctx, id, m.now(), dst); err != nil {
		return nil, err
	}
	return dst, nil
}
