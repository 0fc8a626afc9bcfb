package statefile

import "errors"

var (
	// ErrTooEarly is returned by CheckLastFailover when the last failover
	// completed less than last_failover_minute minutes ago.
	ErrTooEarly = errors.New("last failover is too recent")
	// ErrLastFailoverFailed is returned by CheckLastFailover when the
	// failover error flag file exists.
	ErrLastFailoverFailed = errors.New("last failover failed")
	// ErrUnknownStatus is wrapped when a health file holds a state that is
	// not one of Statuses.
	ErrUnknownStatus = errors.New("unknown manager status")
	// ErrMalformed is wrapped when a health file is not
	// "<pid>\t<code>:<NAME>[\tmaster:<host>]".
	ErrMalformed = errors.New("malformed health file")

	// ErrUnsafeWorkdir means the manager workdir could be written by
	// another local user, who could then plant or remove the state files
	// (a failover.error blocks every failover; a removed one allows a
	// second).
	ErrUnsafeWorkdir = errors.New("unsafe manager workdir")
)

// refusal is CheckLastFailover's error: MHA's message, matching a sentinel.
type refusal struct {
	msg  string
	kind error
}

func (e *refusal) Error() string { return e.msg }
func (e *refusal) Unwrap() error { return e.kind }
