package switchover

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/gomha/gomha/manager/mysqlx"
)

// Threads summarises the sessions a process-list check found.
type Threads struct {
	Count int
	IDs   []uint64
	// Desc is one line per session, longest running first.
	Desc string
}

// ThreadFilter says which sessions a process-list check counts.
type ThreadFilter struct {
	// WithReads counts SELECT and SHOW statements too.
	WithReads bool
	// NotWaiting leaves out sessions waiting for the global read lock, the
	// backup lock (MariaDB >= 10.4), the commit lock or a table flush: the
	// statements queued behind our own lock request, which do not block it.
	NotWaiting bool
	// Exclude are session ids left out besides the querying one.
	Exclude []uint64
}

// threadsQuery returns the process-list query of longThreads. MHA's filter
// (mha-compat §7 Phase 1 step 6): the caller's own sessions, replication
// senders (Binlog Dump*), the server's own threads (system user,
// event_scheduler, Daemon) and idle sessions (Sleep, Connect) never count;
// SELECT and SHOW count only with withReads. TIME is whole seconds.
func threadsQuery(f ThreadFilter) string {
	ids := []string{"CONNECTION_ID()"}
	for _, id := range f.Exclude {
		ids = append(ids, strconv.FormatUint(id, 10))
	}
	q := "SELECT COUNT(*), COALESCE(GROUP_CONCAT(ID ORDER BY TIME DESC SEPARATOR ','), ''), " +
		"COALESCE(GROUP_CONCAT(CONCAT('Id=', ID, ' User=', USER, ' Host=', HOST, ' Command=', COMMAND, ' Time=', TIME, " +
		"' State=', COALESCE(STATE, ''), ' Info=', LEFT(REPLACE(COALESCE(INFO, 'NULL'), '\\n', ' '), 120)) ORDER BY TIME DESC SEPARATOR '\\n'), '') " +
		"FROM information_schema.PROCESSLIST WHERE ID NOT IN (" + strings.Join(ids, ", ") + ") " +
		"AND USER NOT IN ('system user', 'event_scheduler') " +
		"AND COMMAND NOT IN ('Sleep', 'Connect', 'Binlog Dump', 'Binlog Dump GTID', 'Daemon', 'Killed') " +
		"AND TIME >= ?"
	if !f.WithReads {
		q += " AND NOT (UPPER(TRIM(COALESCE(INFO, ''))) LIKE 'SELECT%' OR UPPER(TRIM(COALESCE(INFO, ''))) LIKE 'SHOW%')"
	}
	if f.NotWaiting {
		q += " AND COALESCE(STATE, '') NOT LIKE 'Waiting for % lock' AND COALESCE(STATE, '') <> 'Waiting for table flush'"
	}
	return q
}

// longThreads lists the sessions on c that have run one statement for at
// least secs seconds, as f filters them (see threadsQuery).
func longThreads(ctx context.Context, c *mysqlx.Conn, secs int64, f ThreadFilter) (Threads, error) {
	var th Threads
	var ids string
	if err := c.QueryRow(ctx, threadsQuery(f), secs).Scan(&th.Count, &ids, &th.Desc); err != nil {
		return th, err
	}
	for f := range strings.SplitSeq(ids, ",") {
		if f == "" {
			continue
		}
		id, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return th, fmt.Errorf("process list on %s: bad id %q", c.Addr(), f)
		}
		th.IDs = append(th.IDs, id)
	}
	return th, nil
}
