package topology

import (
	"fmt"
	"strings"

	"github.com/gomha/gomha/manager/mysqlx"
	"github.com/gomha/gomha/manager/topology/gtid"
)

// errantMySQL compares @@gtid_executed: the replica's set minus the
// master's. Servers without gtid_mode=ON are not compared.
func errantMySQL(r, m *mysqlx.State) (string, error) {
	if !strings.EqualFold(r.GTID.Mode, "ON") || !strings.EqualFold(m.GTID.Mode, "ON") {
		return "", nil
	}
	rs, err := gtid.ParseSet(r.GTID.Executed)
	if err != nil {
		return "", fmt.Errorf("replica gtid_executed: %w", err)
	}
	ms, err := gtid.ParseSet(m.GTID.Executed)
	if err != nil {
		return "", fmt.Errorf("master gtid_executed: %w", err)
	}
	return rs.Subtract(ms).String(), nil
}

// errantMariaDB compares @@gtid_current_pos (the master's @@gtid_binlog_pos
// when its current position is empty) domain by domain with
// gtid.MariaDBList.Beyond. MariaDB 10.0+ always has GTIDs, so this runs in
// every GTID mode. A position holds only the last GTID of each domain, so a
// local write on the replica that was followed by newer events from the
// master is not seen.
func errantMariaDB(r, m *mysqlx.State) (string, error) {
	rpos := r.GTID.CurrentPos
	if rpos == "" {
		return "", nil
	}
	mpos := m.GTID.Current()
	rl, err := gtid.ParseMariaDBList(rpos)
	if err != nil {
		return "", fmt.Errorf("replica gtid_current_pos: %w", err)
	}
	ml, err := gtid.ParseMariaDBList(mpos)
	if err != nil {
		return "", fmt.Errorf("master gtid_current_pos: %w", err)
	}
	// GTIDs the master itself wrote (its server_id) are never errant on a
	// replica: the servers are read one after the other, so under write
	// load a replica read after the master may already hold the master's
	// next transactions. Only transactions another server wrote can be.
	var errant gtid.MariaDBList
	for _, g := range rl.Beyond(ml) {
		if m.ServerID != 0 && g.ServerID == m.ServerID {
			continue
		}
		errant = append(errant, g)
	}
	return errant.String(), nil
}

// deadServers: MHA 5.1 step 12. Servers other than the master must be alive
// unless ignore_fail=1 and --ignore_fail_on_start.
func (b *builder) deadServers() {
	for _, n := range b.t.Nodes {
		if n.Role != RoleDead || ServerUpErrno(n.Errno) {
			continue
		}
		if b.opts.IgnoreFailOnStart && n.Server.IgnoreFail {
			b.rep.add(CodeDeadServerIgnored, n.Host(),
				"does not answer (%s); tolerated because ignore_fail=1 and --ignore_fail_on_start. A failover will neither recover nor promote it",
				errText(n.Err))
			continue
		}
		b.rep.add(CodeDeadServer, n.Host(),
			"does not answer (%s), but every server other than the master must be alive. Start it, remove its block from the configuration, or set ignore_fail=1 on it and start the manager with --ignore_fail_on_start",
			errText(n.Err))
	}
}
