package daemon

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"

	"github.com/gomha/gomha/manager/journal"
)

// UnfinishedSwitch describes the journal of an online master switch that
// did not end (the switch was killed, or the machine stopped), naming the
// last step done: such a switch can leave the old master read_only=1 with
// no writable master. It returns "" when there is no such journal. It only
// warns: `mha manager` starts anyway, `mha switch` goes on (keeping the
// journal as .prev).
func UnfinishedSwitch(workdir, app string) string {
	st, err := journal.ReadOf(journal.OpSwitch, workdir, app)
	if err != nil {
		return fmt.Sprintf("cannot read the journal of an earlier master switch: %v", err)
	}
	if !st.Unfinished() {
		return ""
	}
	if pid, err := strconv.Atoi(st.Begin.Detail["pid"]); err == nil && pid > 0 && pid != os.Getpid() && ProcessAlive(pid) {
		return fmt.Sprintf("A master switch is running (pid %d): %s.", pid, st.Summary())
	}
	msg := "An earlier master switch did not finish (it was killed or the machine stopped): " + st.Summary()
	// The summary names the last step when it was done; when it was only
	// started, the last one done is said here.
	if _, done, started := st.LastIntent(); started && !done {
		if r, ok := st.LastDone(); ok {
			msg += fmt.Sprintf("; the last step done was %q on %s", r.Step, r.Host)
		} else {
			msg += "; no step was done"
		}
	}
	return msg + ". The old master may have been left read_only=1 and the new master not opened for writes: " +
		"check both, then move " + st.File + " away."
}

// WarnUnfinishedSwitch logs UnfinishedSwitch's warning, if any, and
// repeats it on echo.
func WarnUnfinishedSwitch(workdir, app string, log *slog.Logger, echo io.Writer) {
	if msg := UnfinishedSwitch(workdir, app); msg != "" {
		log.Warn(msg)
		fmt.Fprintln(echo, msg)
	}
}

// CreateSwitchJournal starts the online switch's journal in workdir,
// naming the requested new master ("" when the switch chooses) and whether
// the old master becomes a replica. A journal that cannot be created is
// logged and the switch goes on without one, as the switch treats a
// journal it cannot write (nil is returned).
func CreateSwitchJournal(workdir, app, newMaster string, origIsNewSlave bool, log *slog.Logger) *journal.Journal {
	detail := map[string]string{"pid": strconv.Itoa(os.Getpid())}
	if newMaster != "" {
		detail["new_master"] = newMaster
	}
	if origIsNewSlave {
		detail["orig_master_is_new_slave"] = "1"
	}
	err := os.MkdirAll(workdir, 0o750)
	var jr *journal.Journal
	if err == nil {
		jr, err = journal.CreateOf(journal.OpSwitch, workdir, app, detail)
	}
	if err != nil {
		log.Error("cannot create the switch journal; switching without one", "err", err)
		return nil
	}
	return jr
}

// EndSwitchJournal records the switch's outcome, its exit code.
func EndSwitchJournal(jr *journal.Journal, code int, log *slog.Logger) {
	if err := jr.End(strconv.Itoa(code)); err != nil {
		log.Error("cannot end the switch journal", "file", jr.File(), "err", err)
		_ = jr.Close()
	}
}
