package topology

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/mysqlx"
)

// Build models the cluster from one observation per configured server, in
// configuration order (MHA's server order, mha-compat §3.3: it decides the
// first server's check_repl_filter and every "first in order" tie-break),
// and runs the start-up checks of mha-compat §5.1 steps 4-12 plus gomha's
// additions (server_id collisions, errant GTIDs, heartbeat and
// slave_net_timeout). It never fails: every problem, fatal or not, is a
// finding in the Report, and Report.OK tells whether the manager may start.
// The Topology is returned even when the report has errors, so that it can
// be printed; its Master is then possibly nil.
func Build(obs []Observation, opts Options) (*Topology, Report) {
	b := &builder{t: &Topology{}, opts: opts}
	for _, o := range obs {
		b.t.Nodes = append(b.t.Nodes, &Node{
			Server: o.Server, State: o.State, Err: o.Err, Errno: o.Errno,
			sourceIPs: o.SourceIPs,
		})
	}
	b.connectErrors()
	if len(b.t.filter((*Node).Alive)) == 0 {
		b.rep.add(CodeNoAliveServer, "", "no configured server answered. Check that the servers run and that the manager host can reach them (hostname/ip/port in the configuration, firewalls)")
		for _, n := range b.t.Nodes {
			n.Role = RoleDead
		}
		return b.t, b.rep
	}
	b.resolveSources()
	b.findMaster()
	b.assignRoles()
	b.replicaCount()
	if b.t.Master != nil {
		// Checks relative to the master; without one, the report already
		// says why and these would only add noise.
		b.versions()
		b.decideGTIDMode()
		b.replicaRules()
		b.masterCandidates()
		b.filters()
		b.errantGTIDs()
	}
	b.serverIDs()
	b.deadServers()
	return b.t, b.rep
}

type builder struct {
	t    *Topology
	rep  Report
	opts Options

	nonReplicas []*Node // alive servers that are not replicas
}

func (b *builder) pingInterval() time.Duration {
	if b.opts.PingInterval > 0 {
		return b.opts.PingInterval
	}
	if m := b.t.Master; m != nil && m.Server.PingInterval > 0 {
		return m.Server.PingInterval
	}
	return DefaultPingInterval
}

func (b *builder) maxSlaveNetTimeout() time.Duration {
	if b.opts.MaxSlaveNetTimeout > 0 {
		return b.opts.MaxSlaveNetTimeout
	}
	return DefaultMaxSlaveNetTimeout
}

func (b *builder) maxHeartbeat() time.Duration {
	if b.opts.MaxHeartbeatPeriod > 0 {
		return b.opts.MaxHeartbeatPeriod
	}
	return HeartbeatIntervals * b.pingInterval()
}

func errText(err error) string {
	if err == nil {
		return "no answer"
	}
	return err.Error()
}

// connectErrors: MHA 5.1 step 3. A server that answers with an error proving
// it runs is a configuration problem, not a dead server.
func (b *builder) connectErrors() {
	for _, n := range b.t.Nodes {
		if !n.Alive() && ServerUpErrno(n.Errno) {
			where := ""
			if n.Errno == 1045 { // ER_ACCESS_DENIED_ERROR, MySQL and MariaDB
				where = accountOrigin(n.Server)
			}
			b.rep.add(CodeConnectRefused, n.Host(),
				"MySQL refused the manager's connection with error %d (%s). The server is running, so this is not a crash: check the manager's user, password and grants, max_connections and max_user_connections, and blocked hosts (FLUSH HOSTS)%s",
				n.Errno, errText(n.Err), where)
		}
	}
}

// accountOrigin says where the manager's account for srv is configured
// (" (password set at app1.cnf:7 [server default]; user at ...)"), "" when
// neither was written in a file.
func accountOrigin(srv config.Server) string {
	var parts []string
	for _, p := range []string{"password", "user"} {
		if o := srv.Origin(p); o != "" {
			parts = append(parts, p+" set at "+o)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

// sameHost compares host names case-insensitively and addresses by value
// ("::ffff:10.0.0.1" equals "10.0.0.1").
func sameHost(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	if strings.EqualFold(a, b) {
		return true
	}
	x, err1 := netip.ParseAddr(a)
	y, err2 := netip.ParseAddr(b)
	return err1 == nil && err2 == nil && x.Unmap() == y.Unmap()
}

func serverMatches(s config.Server, host string, port int, ips []string) bool {
	if s.Port != port {
		return false
	}
	if sameHost(host, s.Hostname) || sameHost(host, s.IP) {
		return true
	}
	for _, ip := range ips {
		if sameHost(ip, s.IP) {
			return true
		}
	}
	return false
}

// resolveSources: MHA 5.1 step 6, first half. Every replica's source must
// be a configured server.
func (b *builder) resolveSources() {
	for _, n := range b.t.Nodes {
		r := n.Replica()
		if r == nil {
			continue
		}
		for _, m := range b.t.Nodes {
			if m != n && serverMatches(m.Server, r.SourceHost, r.SourcePort, n.sourceIPs) {
				n.Source = m
				break
			}
		}
		if n.Source == nil {
			b.rep.add(CodeSourceNotConfigured, n.Host(),
				"replicates from %s, which is not a server of the configuration file. Add a [server] block for that source, or point this replica at the configured master",
				config.HostPort(r.SourceHost, r.SourcePort))
		}
	}
}

func hosts(nodes []*Node) string {
	parts := make([]string, len(nodes))
	for i, n := range nodes {
		parts[i] = n.Host()
	}
	return strings.Join(parts, ", ")
}

func describeSources(nodes []*Node) string {
	parts := make([]string, len(nodes))
	for i, n := range nodes {
		state := "writable"
		switch {
		case !n.Alive():
			state = "dead"
		case n.State.ReadOnly:
			state = "read_only"
		}
		parts[i] = n.Host() + " " + state
	}
	return strings.Join(parts, ", ")
}

// findMaster: MHA 5.1 step 6. The master is the source of the replicas; with
// several sources (master-master, or a replica of a replica) it is the only
// one that is writable or dead.
func (b *builder) findMaster() {
	var sources []*Node
	for _, n := range b.t.Nodes {
		if !n.Alive() {
			continue
		}
		if n.Replica() == nil {
			b.nonReplicas = append(b.nonReplicas, n)
			continue
		}
		if n.Source != nil && !slices.Contains(sources, n.Source) {
			sources = append(sources, n.Source)
		}
	}
	// Keep configuration order among the sources.
	sources = b.t.filter(func(n *Node) bool { return slices.Contains(sources, n) })

	if len(b.nonReplicas) >= 2 {
		b.rep.add(CodeTooManyNonReplicas, "",
			"%d alive servers are not replicas: %s. A cluster has at most one server that replicates from nobody (the master): make the others replicas of the master, or remove them from the configuration",
			len(b.nonReplicas), hosts(b.nonReplicas))
	}
	switch len(sources) {
	case 0:
		if len(b.nonReplicas) == 1 {
			b.t.Master = b.nonReplicas[0]
		}
	case 1:
		b.t.Master = sources[0]
	default:
		var writable []*Node
		for _, s := range sources {
			if !s.Alive() || !s.State.ReadOnly {
				writable = append(writable, s)
			}
		}
		switch len(writable) {
		case 0:
			b.rep.add(CodeNoWritableMaster, "",
				"the replicas replicate from %d servers (%s) and all of them are read_only, so none is the master. Make the real master writable (SET GLOBAL read_only=0)",
				len(sources), describeSources(sources))
		case 1:
			b.t.Master = writable[0]
			b.rep.add(CodeMultiMaster, b.t.Master.Host(),
				"the replicas replicate from %d servers (%s); this one, the only writable or dead one, is the current master",
				len(sources), describeSources(sources))
		default:
			b.rep.add(CodeTooManyWritableMasters, "",
				"the replicas replicate from several servers and %d of them are writable or dead (%s): only the master may be. Set read_only=1 on every source that is not the master",
				len(writable), describeSources(writable))
		}
	}
}

// assignRoles: MHA 5.1 step 6, second half. Every alive server other than
// the master must be a working replica of it.
func (b *builder) assignRoles() {
	m := b.t.Master
	for _, n := range b.t.Nodes {
		switch {
		case n == m:
			n.Role = RoleMaster
		case !n.Alive():
			n.Role = RoleDead
		case n.Replica() == nil:
			n.Role = RoleStray
			// Reported only against a known master, and not twice when
			// TooManyNonReplicas already named it.
			if m != nil && len(b.nonReplicas) < 2 {
				b.rep.add(CodeNotReplicating, n.Host(),
					"is alive but does not replicate. Every server other than the master must be a replica: CHANGE MASTER to the master %s and START SLAVE, or remove this server from the configuration",
					m.Host())
			}
		case n.sqlError():
			n.Role = RoleFailedReplica
			r := n.Replica()
			b.rep.add(CodeReplicaSQLError, n.Host(),
				"is alive, but its SQL thread stopped with error %d: %s. Fix the cause on the replica (or rebuild it) and START SLAVE; ignore_fail does not excuse a broken replica",
				r.LastSQLErrno, sentence(r.LastSQLError))
		case n.Source == nil:
			n.Role = RoleStray // SourceNotConfigured already reported
		case m == nil || n.Source == m:
			n.Role = RoleReplica
		case n.Server.MultiTierSlave:
			n.Role = RoleUnmanaged
			b.rep.add(CodeUnmanagedReplica, n.Host(),
				"replicates from %s, not from the master %s; left unmanaged because multi_tier_slave=1 (a failover will not recover or promote it)",
				n.Source.Host(), m.Host())
		default:
			n.Role = RoleStray
			b.rep.add(CodeWrongSource, n.Host(),
				"replicates from %s, but the master is %s. Point it at the master (CHANGE MASTER), or set multi_tier_slave=1 to leave it unmanaged",
				n.Source.Host(), m.Host())
		}
	}
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// sentence is a server message on one line without its final period, to be
// embedded in a finding.
func sentence(s string) string {
	return strings.TrimRight(oneLine(s), ".")
}

// replicaCount: MHA 5.1 step 4's "no alive slave", and the dead master.
func (b *builder) replicaCount() {
	m := b.t.Master
	if len(b.t.Replicas()) == 0 {
		if m != nil {
			b.rep.add(CodeNoAliveReplica, m.Host(),
				"the master has no alive, working replica, so a failover would have nowhere to go. Set up replication on at least one replica")
		} else {
			b.rep.add(CodeNoAliveReplica, "", "there is no alive, working replica")
		}
	}
	if m != nil && !m.Alive() {
		b.rep.add(CodeMasterDead, m.Host(),
			"the replicas replicate from this master, but it does not answer (%s). If it is down, run a failover; otherwise check the network between the manager and the master",
			errText(m.Err))
	}
}

type majorMinor struct{ major, minor int }

func versionOf(n *Node) majorMinor {
	return majorMinor{n.State.Version.Major, n.State.Version.Minor}
}

func (v majorMinor) less(o majorMinor) bool {
	return v.major < o.major || v.major == o.major && v.minor < o.minor
}

func (v majorMinor) String() string { return fmt.Sprintf("%d.%d", v.major, v.minor) }

// versions: MHA 5.1 step 5. Only replicas with the lowest major.minor may
// become master; the version strings are compared by their first two
// numbers only (MHA 0.58 crashes on them, mha-compat §0 item 1).
func (b *builder) versions() {
	replicas := b.t.Replicas()
	if len(replicas) == 0 {
		return
	}
	low := versionOf(replicas[0])
	for _, n := range replicas[1:] {
		if v := versionOf(n); v.less(low) {
			low = v
		}
	}
	for _, n := range replicas {
		v := versionOf(n)
		n.LowestVersion = v == low
		if !n.LowestVersion {
			b.rep.add(CodeNotLowestVersion, n.Host(),
				"runs %s (%s) while the oldest replica runs %s; it will not be promoted, because the other replicas must not replicate from a newer version. Upgrade the older replicas to make it eligible",
				v, n.State.Version.Raw, low)
		}
	}
	var mysql, maria []*Node
	for _, n := range b.t.Alive() {
		if n.State.Version.Flavor == mysqlx.MariaDB {
			maria = append(maria, n)
		} else {
			mysql = append(mysql, n)
		}
	}
	if len(mysql) > 0 && len(maria) > 0 {
		b.rep.add(CodeFlavorMix, "",
			"MySQL (%s) and MariaDB (%s) are mixed. Replication across the two is limited, their version numbers are not comparable, and their mysqlbinlog cannot read each other's binary logs; failover uses file/position recovery",
			hosts(mysql), hosts(maria))
	}
}

// decideGTIDMode: MHA 5.1 step 7 and mha-compat §6.8, plus MariaDB GTID.
func (b *builder) decideGTIDMode() {
	b.t.GTIDMode = GTIDOff
	replicas := b.t.Replicas()
	if len(replicas) == 0 {
		return
	}
	servers := replicas
	if m := b.t.Master; m != nil && m.Alive() {
		servers = append([]*Node{m}, replicas...)
	}
	mysqlAll, mariaAll, anyOn := true, true, false
	var missing []string
	for _, n := range servers {
		if n.State.Version.Flavor == mysqlx.MariaDB {
			mysqlAll = false
			continue
		}
		mariaAll = false
		if strings.EqualFold(n.State.GTID.Mode, "ON") {
			anyOn = true
		} else {
			mysqlAll = false
			mode := n.State.GTID.Mode
			if mode == "" {
				mode = "OFF"
			}
			missing = append(missing, fmt.Sprintf("%s has gtid_mode=%s", n.Host(), mode))
		}
	}
	autoPos := false
	for _, n := range replicas {
		r := n.Replica()
		autoPos = autoPos || n.Server.UseGTIDAutoPos
		if n.State.Version.Flavor == mysqlx.MariaDB {
			using := r.UsingGTID
			if using == "" || strings.EqualFold(using, "No") {
				mariaAll = false
				missing = append(missing, n.Host()+" has Using_Gtid=No")
				continue
			}
			anyOn = true
			if n.State.GTID.CurrentPos == "" && n.State.GTID.SlavePos == "" {
				mariaAll = false
				missing = append(missing, n.Host()+" has an empty GTID position")
			}
			continue
		}
		if r.AutoPosition {
			autoPos = true
		}
		if strings.EqualFold(n.State.GTID.Mode, "ON") && r.ExecutedGTIDSet == "" {
			mysqlAll = false
			missing = append(missing, n.Host()+" has an empty Executed_Gtid_Set")
		}
	}
	switch {
	case mysqlAll && autoPos:
		b.t.GTIDMode = GTIDMySQL
	case mysqlAll:
		b.t.GTIDMode = GTIDMySQLNoAutoPos
	case mariaAll && autoPos:
		b.t.GTIDMode = GTIDMariaDB
	case mariaAll:
		b.rep.add(CodeGTIDPartial, "",
			"every replica replicates with MariaDB GTID, but use_gtid_auto_pos=0 on all of them: failover will use file/position recovery and switch the replicas to Using_Gtid=No")
	case anyOn:
		b.rep.add(CodeGTIDPartial, "",
			"some servers use GTID replication but not all (%s): failover will use file/position recovery. Enable GTID on every server (MySQL: gtid_mode=ON and MASTER_AUTO_POSITION=1; MariaDB: CHANGE MASTER TO MASTER_USE_GTID=slave_pos) to use GTID failover",
			strings.Join(missing, "; "))
	}
}

// replicaRule is one per-replica check of MHA 5.1 step 9 or of gomha: it
// returns a message when the replica has the problem.
type replicaRule struct {
	code  Code
	check func(b *builder, n *Node) (string, bool)
}

// replicaRules are checked on every alive, working replica, in this order.
var replicaRules = []replicaRule{
	{CodeReplicaWritable, func(_ *builder, n *Node) (string, bool) {
		return "read_only=0: clients can write to this replica and make it diverge from the master. Set read_only=1 in my.cnf and with SET GLOBAL",
			!n.State.ReadOnly
	}},
	{CodeRelayLogPurge, func(b *builder, n *Node) (string, bool) {
		return "relay_log_purge=1: the replica deletes relay logs once applied, but file/position recovery reads them to bring the other replicas up to date. Set relay_log_purge=0 and purge relay logs from cron with purge_relay_logs",
			n.State.RelayLogPurge && !b.t.GTIDMode.UsesGTID()
	}},
	{CodeLogBinOff, func(_ *builder, n *Node) (string, bool) {
		return "log-bin is off: this host cannot be a master. Enable log_bin (and log_slave_updates) if it should be able to take over",
			!n.State.LogBin
	}},
	{CodeSlaveNetTimeoutHigh, checkSlaveNetTimeout},
	{CodeHeartbeatSlow, checkHeartbeat},
}

// checkSlaveNetTimeout warns when a replica would trust a silently dead
// source connection for long: the IO thread keeps Slave_IO_Running=Yes
// until slave_net_timeout passes without data, so during that time the
// replica looks connected to a master that is gone, and the "is the master
// reachable from the replicas" evidence is stale.
func checkSlaveNetTimeout(b *builder, n *Node) (string, bool) {
	limit := b.maxSlaveNetTimeout()
	if time.Duration(n.State.SlaveNetTimeout)*time.Second <= limit {
		return "", false
	}
	old := ""
	if n.State.SlaveNetTimeout == 3600 {
		old = " (3600 s is the default of MySQL before 5.7.7 and MariaDB before 10.2.4)"
	}
	return fmt.Sprintf("slave_net_timeout=%d%s: when the master vanishes without closing the connection (power loss, pulled cable), this replica keeps Slave_IO_Running=Yes for up to %d s and vouches for a dead master. Set slave_net_timeout=%d or lower (SET GLOBAL and my.cnf)",
		n.State.SlaveNetTimeout, old, n.State.SlaveNetTimeout, int(limit/time.Second)), true
}

// checkHeartbeat warns when the replication heartbeat cannot keep an idle
// connection alive (off, or not below slave_net_timeout: the IO thread then
// times out and reconnects over and over on a quiet master; MariaDB refuses
// such a period with error 1704, but a later SET GLOBAL slave_net_timeout
// can still undercut it) or is slower than HeartbeatIntervals ping
// intervals. mysqlx reports 0 both for "off" and "not readable", so the
// message says so.
func checkHeartbeat(b *builder, n *Node) (string, bool) {
	hb := time.Duration(n.State.HeartbeatPeriod * float64(time.Second))
	net := time.Duration(n.State.SlaveNetTimeout) * time.Second
	limit := b.maxHeartbeat()
	want := limit
	if net > 0 && net/2 < want {
		want = net / 2
	}
	fix := fmt.Sprintf("Fix: STOP SLAVE; CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=%g; START SLAVE", want.Seconds())
	switch {
	case hb <= 0:
		return "the replication heartbeat period is 0 (off, or not readable on this server): with the heartbeat off, on a quiet master the replica cannot tell an idle source from a vanished one and its IO thread reconnects every slave_net_timeout. " + fix, true
	case net > 0 && hb >= net:
		return fmt.Sprintf("the heartbeat period (%s) is not below slave_net_timeout (%s): on a quiet master the IO thread times out between heartbeats and reconnects over and over. %s", hb, net, fix), true
	case hb > limit:
		return fmt.Sprintf("the heartbeat period (%s) is longer than %s (%d ping intervals of %s): the replica notices a silent master much later than the manager. %s", hb, limit, HeartbeatIntervals, b.pingInterval(), fix), true
	}
	return "", false
}

func (b *builder) replicaRules() {
	for _, n := range b.t.Replicas() {
		for _, rule := range replicaRules {
			if msg, hit := rule.check(b, n); hit {
				b.rep.add(rule.code, n.Host(), "%s", msg)
			}
		}
	}
}

// cannotBeMaster lists why a replica may never be promoted, whatever its
// position: no_master, no binary log, not the lowest version (MHA's "bad"
// rules that do not depend on replication delay).
func cannotBeMaster(n *Node) []string {
	var why []string
	if n.Server.NoMaster {
		why = append(why, "no_master=1")
	}
	if n.State != nil && !n.State.LogBin {
		why = append(why, "log-bin is off")
	}
	if n.State != nil && !n.LowestVersion {
		why = append(why, "runs a newer version ("+versionOf(n).String()+") than the oldest replica")
	}
	return why
}

// masterCandidates: MHA 5.1 step 9's "None of slaves can be master".
func (b *builder) masterCandidates() {
	replicas := b.t.Replicas()
	if len(replicas) == 0 {
		return
	}
	var why []string
	for _, n := range replicas {
		reasons := cannotBeMaster(n)
		if len(reasons) == 0 {
			return
		}
		why = append(why, n.Host()+": "+strings.Join(reasons, ", "))
	}
	b.rep.add(CodeNoMasterCandidate, "",
		"none of the replicas can be master (%s). Allow at least one replica to take over: remove no_master, enable log-bin, or align the versions",
		strings.Join(why, "; "))
}

// normFilter puts a comma-separated filter list in a canonical order so that
// "b,a" and "a, b" compare equal.
func normFilter(s string) string {
	var parts []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

type filterField struct {
	name string
	get  func(*mysqlx.Filters) string
}

var replicateFields = []filterField{
	{"Replicate_Do_DB", func(f *mysqlx.Filters) string { return f.ReplicateDoDB }},
	{"Replicate_Ignore_DB", func(f *mysqlx.Filters) string { return f.ReplicateIgnoreDB }},
	{"Replicate_Do_Table", func(f *mysqlx.Filters) string { return f.ReplicateDoTable }},
	{"Replicate_Ignore_Table", func(f *mysqlx.Filters) string { return f.ReplicateIgnoreTable }},
	{"Replicate_Wild_Do_Table", func(f *mysqlx.Filters) string { return f.ReplicateWildDoTable }},
	{"Replicate_Wild_Ignore_Table", func(f *mysqlx.Filters) string { return f.ReplicateWildIgnoreTbl }},
}

// filters: MHA 5.1 step 9 with check_repl_filter=1 (the first server's
// value, as in MHA's monitor).
func (b *builder) filters() {
	if len(b.t.Nodes) == 0 || !b.t.Nodes[0].Server.CheckReplFilter {
		return
	}
	replicas := b.t.Replicas()
	if len(replicas) == 0 {
		return
	}
	ref := replicas[0]
	for _, n := range replicas[1:] {
		var diffs []string
		for _, f := range replicateFields {
			a, c := normFilter(f.get(&ref.Replica().Filters)), normFilter(f.get(&n.Replica().Filters))
			if a != c {
				diffs = append(diffs, fmt.Sprintf("%s is %q here but %q on %s", f.name, c, a, ref.Host()))
			}
		}
		if len(diffs) > 0 {
			b.rep.add(CodeReplicateFilterDiffers, n.Host(),
				"replication filters differ: %s. All replicas must have the same replicate_* settings (see SHOW SLAVE STATUS): fix my.cnf, or set check_repl_filter=0 if the difference is intended",
				strings.Join(diffs, "; "))
		}
	}

	// Binary log filters of every server that has a binary log.
	var logging []*Node
	if m := b.t.Master; m != nil && m.Alive() && m.State.LogBin {
		logging = append(logging, m)
	}
	for _, n := range replicas {
		if n.State.LogBin {
			logging = append(logging, n)
		}
	}
	if len(logging) == 0 {
		return
	}
	bref := logging[0]
	for _, n := range logging[1:] {
		var diffs []string
		if a, c := normFilter(bref.State.BinlogDoDB), normFilter(n.State.BinlogDoDB); a != c {
			diffs = append(diffs, fmt.Sprintf("Binlog_Do_DB is %q here but %q on %s", c, a, bref.Host()))
		}
		if a, c := normFilter(bref.State.BinlogIgnoreDB), normFilter(n.State.BinlogIgnoreDB); a != c {
			diffs = append(diffs, fmt.Sprintf("Binlog_Ignore_DB is %q here but %q on %s", c, a, bref.Host()))
		}
		if len(diffs) > 0 {
			b.rep.add(CodeBinlogFilterDiffers, n.Host(),
				"binary log filters differ: %s. Every server with a binary log must have the same binlog_do_db and binlog_ignore_db (see SHOW MASTER STATUS): fix my.cnf, or set check_repl_filter=0 if intended",
				strings.Join(diffs, "; "))
		}
	}
	doDB, ignDB := normFilter(bref.State.BinlogDoDB), normFilter(bref.State.BinlogIgnoreDB)
	rf := &ref.Replica().Filters
	if r := normFilter(rf.ReplicateDoDB); doDB != "" && r != "" && doDB != r {
		b.rep.add(CodeBinlogReplicateFilter, "",
			"binlog_do_db on %s (%q) differs from replicate_do_db on the replicas (%q): after a failover the new master would log a different set of databases than the replicas apply. Make them equal, or set check_repl_filter=0 if intended",
			bref.Host(), doDB, r)
	}
	if r := normFilter(rf.ReplicateIgnoreDB); ignDB != "" && r != "" && ignDB != r {
		b.rep.add(CodeBinlogReplicateFilter, "",
			"binlog_ignore_db on %s (%q) differs from replicate_ignore_db on the replicas (%q): after a failover the new master would log a different set of databases than the replicas apply. Make them equal, or set check_repl_filter=0 if intended",
			bref.Host(), ignDB, r)
	}
}

// serverIDs: gomha. A replica ignores events carrying its own server_id and
// a source drops the older of two replica connections with the same id.
func (b *builder) serverIDs() {
	seen := map[uint32][]*Node{}
	var order []uint32
	for _, n := range b.t.Nodes {
		if !n.Alive() {
			continue
		}
		id := n.State.ServerID
		if len(seen[id]) == 0 {
			order = append(order, id)
		}
		seen[id] = append(seen[id], n)
	}
	for _, id := range order {
		group := seen[id]
		if len(group) < 2 {
			continue
		}
		b.rep.add(CodeServerIDCollision, group[0].Host(),
			"server_id %d is also used by %s. Replication skips events that carry a server's own id and the source drops one of two replicas with the same id, so data is silently lost or replication flaps. Give every server a unique server_id in my.cnf and restart replication",
			id, hosts(group[1:]))
	}
}

// errantGTIDs: gomha. A replica must not hold transactions its master lacks.
func (b *builder) errantGTIDs() {
	m := b.t.Master
	if m == nil || !m.Alive() {
		return
	}
	for _, n := range b.t.Replicas() {
		extra, err := errantOf(n, m)
		if err != nil {
			b.rep.add(CodeGTIDUnreadable, n.Host(), "errant transactions were not checked: %v", err)
			continue
		}
		if extra == "" {
			continue
		}
		if b.t.GTIDMode.UsesGTID() {
			b.rep.add(CodeErrantGTID, n.Host(),
				"has transactions the master %s does not have: %s (usually writes made directly on the replica). A GTID failover would ship them to the other replicas or stop their replication. Inspect them with mysqlbinlog on this replica, then reconcile them with the master (MySQL: commit empty transactions with those GTIDs on the master) or rebuild this replica from the master",
				m.Host(), extra)
		} else {
			b.rep.add(CodeErrantGTIDUnused, n.Host(),
				"has transactions the master %s does not have: %s (usually writes made directly on the replica). Failover uses file/position recovery and is not blocked, but this replica's data may differ from the master's: inspect them with mysqlbinlog on this replica and reconcile, or rebuild the replica",
				m.Host(), extra)
		}
	}
}

// errantOf returns the replica's transactions that the master lacks, as
// text, "" when there are none or the servers do not expose comparable GTIDs.
func errantOf(n, m *Node) (string, error) {
	rs, ms := n.State, m.State
	if rs.Version.Flavor != ms.Version.Flavor {
		return "", nil
	}
	if rs.Version.Flavor == mysqlx.MariaDB {
		return errantMariaDB(rs, ms)
	}
	return errantMySQL(rs, ms)
}
