package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// ProcessAlive says whether pid runs. Unlike MHA, a process this user may
// not signal (EPERM) runs too, and a zombie (exited, not yet reaped) does
// not.
func ProcessAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	p, err := readProc(strconv.Itoa(pid))
	return err != nil || p.state != 'Z'
}

// Leftovers lists the processes a dead manager left: its children, as
// MHA's `ps --ppid` finds them, and the members of its process group. The
// group matters more: a dead parent's children are re-parented at once, but
// they stay in the group the manager leads.
func Leftovers(pid int) []int {
	procs, err := processTable()
	if err != nil {
		return nil
	}
	var out []int
	for _, p := range procs {
		if p.pid > 1 && p.pid != pid && p.state != 'Z' && (p.ppid == pid || p.pgid == pid) {
			out = append(out, p.pid)
		}
	}
	sort.Ints(out)
	return out
}

// proc is one process table entry.
type proc struct {
	pid, ppid, pgid int
	state           byte // 'Z' for a zombie
}

// processTable reads /proc, or asks ps where there is no /proc.
func processTable() ([]proc, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return psTable()
	}
	var procs []proc
	for _, e := range entries {
		if p, err := readProc(e.Name()); err == nil {
			procs = append(procs, p)
		}
	}
	return procs, nil
}

// readProc reads /proc/<pid>/stat: "pid (comm) state ppid pgrp ...", where
// comm may hold blanks and parentheses.
func readProc(pid string) (proc, error) {
	n, err := strconv.Atoi(pid)
	if err != nil {
		return proc{}, err
	}
	b, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return proc{}, err
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 3 || len(f[0]) != 1 {
		return proc{}, fmt.Errorf("/proc/%s/stat: unexpected %q", pid, b)
	}
	p := proc{pid: n, state: f[0][0]}
	p.ppid, _ = strconv.Atoi(f[1])
	p.pgid, _ = strconv.Atoi(f[2])
	return p, nil
}

func psTable() ([]proc, error) {
	out, err := exec.Command("ps", "-A", "-o", "pid=,ppid=,pgid=,stat=").Output()
	if err != nil {
		return nil, fmt.Errorf("ps: %w", err)
	}
	var procs []proc
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 {
			continue
		}
		p := proc{state: f[3][0]}
		p.pid, _ = strconv.Atoi(f[0])
		p.ppid, _ = strconv.Atoi(f[1])
		p.pgid, _ = strconv.Atoi(f[2])
		procs = append(procs, p)
	}
	return procs, nil
}
