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
// replicas) asks every replica, over SQL, for its replication IO thread
// twice (state and Read_Master_Log_Pos, at least IOSampleGap apart) and,
// over SSH, to connect from its host to the master's ip:port and read the
// first bytes of the server's greeting within ProbeTimeout
// (GreetingProbeArgv; bash and coreutils there, no agent). The probe tells
// apart a server that answers (a handshake, or an error packet such as 1040
// too many connections: alive), a refused connect (mysqld down, host up),
// no route, a connect that gets no answer (silent: host down or cut off)
// and a port that accepts but sends nothing (hung: a SIGSTOPped or stuck
// mysqld, whose kernel still completes the TCP handshake; dead once the
// deadline has passed). Judge gives one replica's vote; BuiltIn decides
// over all of them:
//
//	any replica's IO thread runs and its read position advanced   -> not dead (the master writes)
//	any replica reads the greeting (or an error packet)           -> not dead
//	no replica could be asked at all (the manager is cut off)     -> not dead
//	otherwise: at least one votes dead (probe refused, no route,
//	silent or hung; without a probe an IO thread Connecting or No)
//	and none votes alive                                          -> dead
//
// An IO thread that says Yes without advancing decides only when no probe
// ran: after a pulled cable it stays Yes until slave_net_timeout. The
// verdict says how the master looked (Verdict.Kind: refused, hung, silent)
// for the fencing step.
//
// When secondary_check_script is configured it must exit 0 as well (MHA:
// 2, 3 and everything else mean "not confirmed").
//
// A master whose port refuses (or of which no probe said how it failed,
// while the manager's own connects fail at once) may be restarting:
// `systemctl restart mariadb` closes the sessions and refuses connections
// for 1 to 3 s on Debian, exactly like a kill -9, from every host. What
// tells them apart is the master's host: the SSH check runs one short
// command there (ProcessCheckArgv, bounded by ProcessCheckTimeout) that
// looks for a mysqld, mariadbd, mysqld_safe or mariadbd-safe process in
// the host's own network namespace and, with systemd, at the server's
// units. With SSH working and no such process (nor a unit about to start
// one), nothing is restarting: the master is decided at once, by the rules
// above. A process there (the old server shutting down, the new one
// starting, a guard about to restart a crashed one), a unit activating, or
// no answer: the master is declared dead only once its pings have failed
// for RestartWindow since the first failure (3 × ping_interval, as MHA, at least
// 3 s). The failed ping on a session the server closed is the first
// failure. Hung and silent masters, whose pings run into their deadline,
// are decided without the window.
//
// Not confirmed: the count is reset, the reasons are logged and monitoring
// goes on; the next failure starts a new confirmation. A successful ping
// cancels a running confirmation.
//
// Whether the SSH check ran on the master host does not take part in the
// decision, as in MHA (its process check only chooses whether the restart
// window applies); it is Verdict.SSHReachable, which the failover needs
// (stopssh vs stop, saving the dead master's binlogs).
//
// A manager that lost only its own link to the master sees its pings fail
// but the replicas still reach the master, or keep receiving its events:
// never a failover. A manager cut
// off from everything refuses as well. The remaining risk is a split where
// the manager still reaches some replicas that have lost the master while
// others, with the master, are unreachable from the manager; fence with
// master_ip_failover_script / shutdown_script as with MHA.
package detect
