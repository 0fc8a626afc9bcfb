package topology

import (
	"time"

	"github.com/gomha/gomha/manager/mysqlx"
)

// DefaultMaxLag is masterha_check_repl's default --seconds_behind_master.
const DefaultMaxLag = 30 * time.Second

// CheckReplHealth is masterha_check_repl's extra check (mha-compat §2.3,
// §5.1 step 16): every alive, working replica of the master must have its IO
// and SQL threads running and Seconds_Behind_Master known and at most
// maxLag (DefaultMaxLag when maxLag <= 0). Lag is only judged when both
// threads run.
func CheckReplHealth(t *Topology, maxLag time.Duration) Report {
	if maxLag <= 0 {
		maxLag = DefaultMaxLag
	}
	var rep Report
	for _, n := range t.Replicas() {
		r := n.Replica()
		running := true
		if !r.IORunning.Connected() {
			running = false
			io := r.IORunning
			if io == mysqlx.IOUnknown {
				io = mysqlx.IOStopped
			}
			msg := "the IO thread is not running (Slave_IO_Running=" + string(io) + ")"
			if r.LastIOErrno != 0 {
				rep.add(CodeReplicaIOStopped, n.Host(), "%s, last error %d: %s. Fix the connection to the master and START SLAVE IO_THREAD", msg, r.LastIOErrno, sentence(r.LastIOError))
			} else {
				rep.add(CodeReplicaIOStopped, n.Host(), "%s. Check the connection to the master and START SLAVE IO_THREAD", msg)
			}
		}
		if !r.SQLRunning {
			running = false
			rep.add(CodeReplicaSQLStopped, n.Host(), "the SQL thread is not running. START SLAVE SQL_THREAD (it stopped without an error, so someone stopped it)")
		}
		if !running {
			continue
		}
		switch {
		case r.SecondsBehind == nil:
			rep.add(CodeReplicaLagUnknown, n.Host(), "Seconds_Behind_Master is NULL although both threads run. Check SHOW SLAVE STATUS on the replica")
		case time.Duration(*r.SecondsBehind)*time.Second > maxLag:
			rep.add(CodeReplicaLagging, n.Host(), "is %d s behind the master (limit %d s). Wait for it to catch up, find what slows it (long transactions, SQL_Delay, I/O), or raise --seconds_behind_master",
				*r.SecondsBehind, int64(maxLag/time.Second))
		}
	}
	return rep
}
