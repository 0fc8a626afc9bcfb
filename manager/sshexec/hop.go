package sshexec

import (
	"strconv"
	"time"
)

// HopArgv returns the argv of an ssh command that, run on another host of
// the cluster, connects from there to dst and runs command (joined with
// [Join] for dst's shell). It is the host-to-host check of
// masterha_check_ssh, which ran
//
//	ssh <opts> src "ssh <opts> -p <port> <user>@<dst> exit 0"
//
// Run it with [Client.Run] on the source host:
//
//	res, err := src.Run(ctx, sshexec.HopArgv(dst, "exit", "0"))
//
// The argv is: ssh -o BatchMode=yes -o PasswordAuthentication=no
// -o ConnectTimeout=<N> <dst.Options.Args...> -p <port> -l <user> -- <host>
// <command>. N is dst's connect timeout in whole seconds (rounded up). As in
// MHA, the ssh_options come before -p and -l, so for OpenSSH a Port or User
// given in them wins; the identity and known_hosts files they name are those
// of the source host. Unlike MHA, no StrictHostKeyChecking=no is added: the
// source host's known_hosts decide unless ssh_options say otherwise. -p is
// left out when dst.Port is 0 and -l when dst.User is empty (the source's
// ssh configuration then decides). Without a command, ssh would open a
// login shell, so command should not be empty.
func HopArgv(dst Target, command ...string) []string {
	timeout := dst.ConnectTimeout
	if timeout <= 0 {
		timeout = dst.Options.ConnectTimeout
	}
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	secs := int((timeout + time.Second - 1) / time.Second)
	argv := []string{
		"ssh",
		"-o", "BatchMode=yes",
		"-o", "PasswordAuthentication=no",
		"-o", "ConnectTimeout=" + strconv.Itoa(secs),
	}
	argv = append(argv, dst.Options.Args...)
	if dst.Port != 0 {
		argv = append(argv, "-p", strconv.Itoa(dst.Port))
	}
	if dst.User != "" {
		argv = append(argv, "-l", dst.User)
	}
	host := dst.Host
	if len(host) > 2 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1] // ssh takes a bare IPv6 address
	}
	argv = append(argv, "--", host)
	if len(command) > 0 {
		argv = append(argv, Join(command))
	}
	return argv
}
