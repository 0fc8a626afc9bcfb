package mysqlx

// Statement spellings per flavor and version. MySQL renamed the replication
// vocabulary in steps (8.0.22: SHOW REPLICA STATUS, START/STOP/RESET REPLICA;
// 8.0.23: CHANGE REPLICATION SOURCE TO; 8.0.26: SOURCE_POS_WAIT and the
// replica_* variables; 8.2: SHOW BINARY LOG STATUS) and removed the old
// spellings in 8.4. MariaDB accepts the old spellings in every version (10.5
// added REPLICA aliases), so it always gets them.

// usesReplicaKeyword reports MySQL >= 8.0.22 (START/STOP/RESET/SHOW REPLICA).
func (v Version) usesReplicaKeyword() bool { return v.isMySQL(8, 0, 22) }

// usesSourceKeyword reports MySQL >= 8.0.23 (CHANGE REPLICATION SOURCE TO,
// SOURCE_* options).
func (v Version) usesSourceKeyword() bool { return v.isMySQL(8, 0, 23) }

func (v Version) replicaStatusStmt() string {
	if v.usesReplicaKeyword() {
		return "SHOW REPLICA STATUS"
	}
	return "SHOW SLAVE STATUS"
}

func (v Version) binlogStatusStmt() string {
	if v.isMySQL(8, 2, 0) {
		return "SHOW BINARY LOG STATUS"
	}
	return "SHOW MASTER STATUS"
}

// replicaStmt returns "<verb> SLAVE" or "<verb> REPLICA" followed by rest.
func (v Version) replicaStmt(verb, rest string) string {
	s := verb + " SLAVE"
	if v.usesReplicaKeyword() {
		s = verb + " REPLICA"
	}
	if rest != "" {
		s += " " + rest
	}
	return s
}

func (v Version) posWaitFunc() string {
	if v.isMySQL(8, 0, 26) {
		return "SOURCE_POS_WAIT"
	}
	return "MASTER_POS_WAIT"
}
