package lab

import "syscall"

// FreezeMariaDB sends SIGSTOP to h's mariadbd: the process hangs, but its
// listening socket stays open, so the kernel still completes TCP handshakes
// on its port while nothing reads, writes or sends a greeting (a hung
// server, as opposed to a dead one). ThawMariaDB resumes it; a frozen
// mariadbd can still be killed (KillMariaDB, Close), but StopMariaDB waits
// until it is thawed.
func (h *Host) FreezeMariaDB() error {
	return h.signalMariaDB(syscall.SIGSTOP, "freeze")
}

// ThawMariaDB sends SIGCONT to h's mariadbd, resuming a FreezeMariaDB.
// Thawing a running mariadbd does nothing.
func (h *Host) ThawMariaDB() error {
	return h.signalMariaDB(syscall.SIGCONT, "thaw")
}
