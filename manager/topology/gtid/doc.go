// Package gtid models global transaction identifiers of both server
// families as values: MySQL GTID sets (uuid[:tag]:interval lists, as in
// @@gtid_executed) and MariaDB GTID lists (domain-server_id-seq_no, as in
// @@gtid_current_pos and @@gtid_binlog_state). It parses, prints in a
// canonical form and compares them; it never talks to a server.
//
// Parsers return an error for malformed text and never panic.
package gtid

import "errors"

// Sentinel errors; parse errors wrap one of them with the offending text.
var (
	// ErrSyntax reports text that is not a GTID set or GTID list.
	ErrSyntax = errors.New("gtid: syntax error")
	// ErrRange reports a number outside its allowed range, such as a MySQL
	// transaction number of 0 or above 2^63-1, or an interval whose end is
	// before its start.
	ErrRange = errors.New("gtid: number out of range")
)
