// Package sshexec runs commands and copies files on the hosts of a
// replication cluster over SSH, the way MHA did with the ssh and scp
// binaries, but in process with golang.org/x/crypto/ssh.
//
// Every remote command is given as an argv list and turned into a POSIX sh
// command line by [Join], which quotes each argument with [Quote]; nothing in
// this package pastes a caller's string into a shell command unquoted.
//
// MHA's ssh_options string is parsed by [ParseOptions]. The options gomha
// understands (identity files, known_hosts files, StrictHostKeyChecking,
// ConnectTimeout, Port, User, keep-alives) are honoured by [Dial]; the
// others are kept so that [HopArgv] can pass them on to a remote ssh binary,
// as MHA did.
//
// Host keys are verified against known_hosts by default. MHA always used
// StrictHostKeyChecking=no; gomha only accepts unknown or changed host keys
// when ssh_options says so (StrictHostKeyChecking=no or accept-new).
//
// Errors from [Dial] are [*DialError] values that match one of the sentinel
// errors ([ErrConnect], [ErrTimeout], [ErrAuth], [ErrHostKey],
// [ErrUnknownHost]) with errors.Is. A remote command that ran and exited
// with a non-zero status is reported as an [*ExitError], distinct from
// transport failures such as [ErrConnectionLost].
//
// Every method that can block takes a context. When it ends, the method
// returns at once and the remote command is stopped (see [Client.Run]: a
// small sh wrapper on the server kills the command when the SSH session goes
// away, because OpenSSH ignores signal requests for root logins; a command
// fed by the caller's stdin through [Client.Stream] only sees end of file).
//
// The remote account's login shell must be a POSIX shell (sh, dash, bash,
// ksh, zsh): sshd hands the command line to it. The remote hosts need sh,
// cat and kill, and sha256sum or md5sum for the copy checks.
package sshexec
