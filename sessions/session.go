package sessions

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Session is one web user session. It is a plain value: stores hand out copies, and a
// networked store can serialise it as JSON. Slices and Storage are never modified in place
// once stored (updates replace them), so shallow copies are safe to share.
type Session struct {
	ID       string `json:"id"`
	UserName string `json:"userName,omitempty"`
	FullName string `json:"fullName,omitempty"`
	UserID   string `json:"userID,omitempty"`

	// Privileges and Roles are the names granted by setPrivileges, as granted (not expanded:
	// expansion follows the roles.json in force at the time of each request).
	Privileges []string `json:"privileges,omitempty"`
	Roles      []string `json:"roles,omitempty"`

	// Storage is the session's JSON object (Session.storage in scripts); nil means {}.
	Storage json.RawMessage `json:"storage,omitempty"`

	IdleTimeout time.Duration `json:"idleTimeout"`
	Created     time.Time     `json:"created"`
	LastAccess  time.Time     `json:"lastAccess"`
	Expires     time.Time     `json:"expires"`
	RemoteAddr  string        `json:"remoteAddr,omitempty"`

	// Guest is true until the session is authenticated (onRESTAuthentication accepted it)
	// or granted privileges (setPrivileges, even with none); it never becomes true again.
	// Guests are the sessions bounded by the store's guest limit.
	Guest bool `json:"guest"`

	// Authenticated is set once onRESTAuthentication has accepted the session, so that it
	// is not called again for it.
	Authenticated bool `json:"authenticated,omitempty"`

	// Licensed reports whether the session holds a licence. Only the store changes it.
	Licensed bool `json:"licensed"`
}

// State is where a session stands in the login life cycle.
type State uint8

const (
	StateGuest         State = iota // force-login guest: no licence, descriptive requests only (Guest && !Licensed)
	StateAnonymous                  // default mode: holds a licence, never authenticated or granted anything (Guest && Licensed)
	StateGranted                    // a script called setPrivileges (not Guest), not through onRESTAuthentication
	StateAuthenticated              // onRESTAuthentication accepted it (Authenticated)
)

var stateNames = [...]string{"guest", "anonymous", "granted", "authenticated"}

func (st State) String() string {
	if int(st) < len(stateNames) {
		return stateNames[st]
	}
	return fmt.Sprintf("State(%d)", uint8(st))
}

// State reads the session's state from its flags. Authenticated wins over Guest (a login
// clears Guest as it sets Authenticated, so both set would be a half-written record), and
// Guest over Licensed: a force-login session granted privileges holds a licence too.
func (s *Session) State() State {
	switch {
	case s.Authenticated:
		return StateAuthenticated
	case !s.Guest:
		return StateGranted
	case s.Licensed:
		return StateAnonymous
	default:
		return StateGuest
	}
}

// Clone returns a deep copy of s, safe to modify.
func (s *Session) Clone() *Session {
	c := *s
	c.Privileges = slices.Clone(s.Privileges)
	c.Roles = slices.Clone(s.Roles)
	c.Storage = slices.Clone(s.Storage)
	return &c
}

// Expired reports whether the session is past its expiration at now.
func (s *Session) Expired(now time.Time) bool { return !now.Before(s.Expires) }

// NewID returns a new session ID: a random (version 4) UUID written as 32 upper-case
// hexadecimal digits, the form 4D uses.
func NewID() (string, error) {
	u, err := uuid.NewRandom()
	if err != nil {
		return "", err
	}
	var buf [32]byte
	hex.Encode(buf[:], u[:])
	for i, c := range buf {
		if c >= 'a' && c <= 'f' {
			buf[i] = c - 'a' + 'A'
		}
	}
	return string(buf[:]), nil
}

// ValidID reports whether id has the form of a session ID (32 upper-case hex digits).
func ValidID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
