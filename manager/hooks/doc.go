// Package hooks runs MHA's hook scripts (master_ip_failover_script,
// master_ip_online_change_script, shutdown_script, report_script,
// secondary_check_script) with the arguments MHA 0.58 gives them
// (mha-compat §4).
//
// MHA builds one string per call and runs it with /bin/sh -c. gomha runs
// the hook without a shell: the configured value is split into words by
// [SplitCommand] (quotes and backslashes as sh would read them, nothing
// expanded), the arguments built here are appended, and the result is
// executed as an argv list by [Runner.Run]. The argument builders
// (FailoverStatusArgs and the others) return exactly the words a hook
// received under MHA 0.58 after the shell split MHA's string, in MHA's
// order; doubled blanks in MHA's strings make no difference once split.
//
// Passwords and database users are passed through [Escape], as MHA does:
// MHA writes them as --new_master_password='<escaped>', and inside the
// single quotes its backslashes are literal, so hooks written for MHA
// expect (and usually undo) them. The shell removes the single quotes, so
// the builders do not add them.
//
// Where gomha differs from MHA 0.58 on purpose (each documented at the
// builder concerned):
//   - secondary_check_script gets --master_user and --master_password as
//     one word each, exactly as configured. MHA pastes them unescaped into
//     the shell string, where blanks split them and $ or ` expand.
//   - report_script gets --subject and --body as written. MHA puts them in
//     double quotes, where $, ` and \ would be interpreted.
//   - The --ssh_options / --options value is MHA's option string without
//     "-o StrictHostKeyChecking=no" (gomha verifies host keys; a user who
//     wants MHA's behaviour writes that option in ssh_options, and the hook
//     gets it too), and it is sent for a server whose own ssh_options is
//     set (MHA: every server once any block sets it, with the last block's
//     value).
package hooks
