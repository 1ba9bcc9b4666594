package core

import (
	"fmt"

	"gatehouse/internal/errkind"
	"gatehouse/roles"
)

// The core's refusals. Each has a kind; the REST layer's one table gives each its status,
// 4D error code and message.
var (
	// ErrGuest: a force-login guest asked for more than a descriptive request.
	ErrGuest = errkind.New(errkind.Permission, "core: force-login guest: authentify first")
	// ErrForceLoginMode: $directory/login (or HTTP Basic) in force login mode.
	ErrForceLoginMode = errkind.New(errkind.Invalid, "core: force login mode: log in through authentify")
	// ErrLoginFailed: onRESTAuthentication refused HTTP Basic credentials.
	ErrLoginFailed = errkind.New(errkind.Permission, "core: authentication failed")
	// ErrUnknownFunction: no exported function at that URL.
	ErrUnknownFunction = errkind.New(errkind.NotFound, "core: unknown function")
	// ErrNotAdmin: the request needs the WebAdmin privilege.
	ErrNotAdmin = errkind.New(errkind.Permission, "core: WebAdmin privilege required")
)

// PermissionError refuses an action on a resource that the session's privileges do not
// allow (roles.json).
type PermissionError struct {
	Action   roles.Action
	Resource roles.Resource
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("core: no permission to %s %s", e.Action, e.Resource)
}

// ErrorKind implements errkind's classification.
func (e *PermissionError) ErrorKind() errkind.Kind { return errkind.Permission }
