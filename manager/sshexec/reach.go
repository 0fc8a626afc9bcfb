package sshexec

// Reach is what is known about reaching a host over SSH, as a failover
// needs it (stopssh or stop, saving the dead master's binlogs). MHA carries
// it as a number (--ssh_reachable: 0 no, 1 yes, 2 unknown); FromMHA and MHA
// convert at that boundary, and nothing else uses the numbers.
type Reach int

// SSH reachability. The zero value is ReachUnknown: nothing is assumed of a
// host that was not tried.
const (
	// ReachUnknown: not tried (MHA's 2).
	ReachUnknown Reach = iota
	// Unreachable: tried, and a command did not run there (MHA's 0).
	Unreachable
	// Reachable: a command ran there (MHA's 1).
	Reachable
)

// ReachOf is Reachable when ok, Unreachable otherwise: the outcome of one
// attempt.
func ReachOf(ok bool) Reach {
	if ok {
		return Reachable
	}
	return Unreachable
}

// FromMHA converts MHA's --ssh_reachable number (0 no, 1 yes, 2 unknown);
// any other number is ReachUnknown.
func FromMHA(n int) Reach {
	switch n {
	case 0:
		return Unreachable
	case 1:
		return Reachable
	}
	return ReachUnknown
}

// MHA returns MHA's --ssh_reachable number: 0 unreachable, 1 reachable, 2
// unknown.
func (r Reach) MHA() int {
	switch r {
	case Unreachable:
		return 0
	case Reachable:
		return 1
	}
	return 2
}

// String returns "reachable", "unreachable" or "unknown".
func (r Reach) String() string {
	switch r {
	case Unreachable:
		return "unreachable"
	case Reachable:
		return "reachable"
	}
	return "unknown"
}
