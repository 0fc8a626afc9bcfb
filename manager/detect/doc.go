// Package detect decides when a master is dead, the way MHA's health check
// does (mha-compat §5.2, §5.3), with stronger confirmation.
//
// Machine is the decision logic: a pure state machine fed ticks and the
// results of what it asked for (pings, replica probes, the
// secondary_check_script exit code, an SSH check), returning actions. It
// does no I/O and is tested with scenario files in testdata/. Monitor is
// the thin I/O loop around it.
//
// # When is the master dead?
//
// First, pings (ping_type SELECT, CONNECT or INSERT, each bounded by
// ping_interval) fail DefaultThreshold (4) times in a row. Errors of the
// "alive" list (mysqlx.IsAliveErrno: too many connections, access denied,
// host blocked...) are logged as "not a MySQL crash" and never counted:
// the server answered, so they also reset the count.
//
// Then the confirmation, started in the background at the first counted
// failure, must agree. Its built-in part (when Monitor.Secondary lists
// replicas) asks every replica for its replication IO thread over SQL and,
// over SSH, to open a TCP connection to the master's ip:port from its host
// (TCPProbeArgv). Judge gives one replica's vote; BuiltIn decides over all
// of them:
//
//	any replica reaches the master (connect works; without a probe: IO thread "Yes")  -> not dead
//	no replica could be asked at all (the manager is the one cut off)                 -> not dead
//	otherwise: at least one says unreachable and none says reachable                  -> dead
//
// When secondary_check_script is configured it must exit 0 as well (MHA:
// 2, 3 and everything else mean "not confirmed").
//
// Not confirmed: the count is reset, the reasons are logged and monitoring
// goes on; the next failure starts a new confirmation. A successful ping
// cancels a running confirmation.
//
// The SSH check on the master host (`exit 0`) does not take part in the
// decision, as in MHA; its result is Verdict.SSHReachable, which the
// failover needs (stopssh vs stop, saving the dead master's binlogs).
//
// A manager that lost only its own link to the master sees its pings fail
// but the replicas still reach the master: never a failover. A manager cut
// off from everything refuses as well. The remaining risk is a split where
// the manager still reaches some replicas that have lost the master while
// others, with the master, are unreachable from the manager; fence with
// master_ip_failover_script / shutdown_script as with MHA.
package detect
