package failover

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/gomha/gomha/manager/check"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/nodeinstall"
	"github.com/gomha/gomha/manager/sshexec"
	"github.com/gomha/gomha/node/binlog"
)

// managerVersion is what the manager passes as --manager_version, MHA's
// number, so that the node tools' checks read as MHA's.
const managerVersion = "0.58"

// nodeResult is the --json line the node tools print (the fields the
// manager reads).
type nodeResult struct {
	ExitCode   int    `json:"exit_code"`
	Error      string `json:"error"`
	DiffFile   string `json:"diff_file"`
	OutputFile string `json:"output_file"`
	UpToDate   bool   `json:"up_to_date"`
	Events     int    `json:"events"`
	Bytes      int64  `json:"bytes"`
	End        string `json:"end"`
}

// nodeHost is an SSH session to one database host with the node tools
// installed in its remote_workdir.
type nodeHost struct {
	srv    config.Server
	client *sshexec.Client
	bin    string
}

// hosts keeps one nodeHost per server block for the whole failover.
type hosts struct {
	binary string
	mu     sync.Mutex
	m      map[string]*nodeHost
}

func (hs *hosts) Get(ctx context.Context, srv config.Server) (Node, error) {
	hs.mu.Lock()
	h := hs.m[srv.Block]
	hs.mu.Unlock()
	if h != nil {
		return h, nil
	}
	t, err := check.SSHTarget(srv)
	if err != nil {
		return nil, fmt.Errorf("ssh to %s: %w", check.SSHName(srv), err)
	}
	c, err := sshexec.Dial(ctx, t)
	if err != nil {
		return nil, err
	}
	bin, err := nodeinstall.Ensure(ctx, c, hs.binary, srv.RemoteWorkdir)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("install node tools on %s: %w", check.SSHName(srv), err)
	}
	h = &nodeHost{srv: srv, client: c, bin: bin}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if old := hs.m[srv.Block]; old != nil {
		c.Close()
		return old, nil
	}
	if hs.m == nil {
		hs.m = map[string]*nodeHost{}
	}
	hs.m[srv.Block] = h
	return h, nil
}

func (hs *hosts) Close() {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	for _, h := range hs.m {
		h.client.Close()
	}
	hs.m = nil
}

// run runs one node tool (MHA's name) with --json and the given options;
// stdin, when not empty, is written to the tool's standard input. Exit codes
// the tool defines (save_binary_logs' 10) come back in the result; an error
// means the tool could not run or failed.
func (h *nodeHost) run(ctx context.Context, tool, stdin string, opts ...string) (nodeResult, error) {
	argv := append([]string{h.bin, tool}, opts...)
	argv = append(argv, "--manager_version="+managerVersion, "--json")
	if h.srv.ClientBindir != "" {
		argv = append(argv, "--client_bindir="+h.srv.ClientBindir)
	}
	var out, errOut bytes.Buffer
	var in io.Reader
	if stdin != "" {
		in = strings.NewReader(stdin + "\n")
	}
	err := h.client.Stream(ctx, argv, in, &out, &errOut)
	var res nodeResult
	line := strings.TrimSpace(lastLine(out.String()))
	if jerr := json.Unmarshal([]byte(line), &res); jerr != nil {
		if err == nil {
			err = fmt.Errorf("unreadable result %q", line)
		}
		msg := strings.TrimSpace(errOut.String())
		if msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return res, fmt.Errorf("%s on %s: %w", tool, check.SSHName(h.srv), err)
	}
	if res.ExitCode != 0 && res.ExitCode != 10 {
		msg := res.Error
		if msg == "" {
			msg = strings.TrimSpace(errOut.String())
		}
		return res, fmt.Errorf("%s on %s: exit %d: %s", tool, check.SSHName(h.srv), res.ExitCode, msg)
	}
	return res, nil
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// SaveTail runs save_binary_logs on the dead master: its binlog events from
// start to the end of its last binlog, into a file in its remote_workdir.
// ok is false when there was nothing after start (exit 10).
func (h *nodeHost) SaveTail(ctx context.Context, start binlog.Pos, name string) (res nodeResult, ok bool, err error) {
	out := filepath.Join(h.srv.RemoteWorkdir, name)
	res, err = h.run(ctx, "save_binary_logs", "",
		"--command=save",
		"--start_file="+start.File,
		"--start_pos="+strconv.FormatUint(start.Offset, 10),
		"--binlog_dir="+strings.Join(h.srv.MasterBinlogDir, ","),
		"--output_file="+out,
		"--handle_raw_binlog=1",
		"--disable_log_bin=0",
	)
	if err != nil {
		return res, false, err
	}
	if res.ExitCode == 10 {
		return res, false, nil
	}
	if res.OutputFile == "" {
		res.OutputFile = out
	}
	return res, true, nil
}

// Generate runs apply_diff_relay_logs --command=generate on a replica: the
// source events of its relay logs from target to its own Read position
// (latest), into a file in its remote_workdir. ok is false when there is
// nothing to copy.
func (h *nodeHost) Generate(ctx context.Context, serverID uint32, relayDir string, latest, target binlog.Pos, name, ts string) (res nodeResult, ok bool, err error) {
	out := filepath.Join(h.srv.RemoteWorkdir, name)
	res, err = h.run(ctx, "apply_diff_relay_logs", "",
		"--command=generate",
		"--latest_mlf="+latest.File,
		"--latest_rmlp="+strconv.FormatUint(latest.Offset, 10),
		"--target_mlf="+target.File,
		"--target_rmlp="+strconv.FormatUint(target.Offset, 10),
		"--server_id="+strconv.FormatUint(uint64(serverID), 10),
		"--relay_dir="+relayDir,
		"--workdir="+h.srv.RemoteWorkdir,
		"--timestamp="+ts,
		"--diff_file_readtolatest="+out,
	)
	if err != nil {
		return res, false, err
	}
	if res.UpToDate || res.Events == 0 {
		return res, false, nil
	}
	if res.DiffFile == "" {
		res.DiffFile = out
	}
	return res, true, nil
}

// Apply runs apply_diff_relay_logs --command=apply on the target's own host,
// against its own server, the password on standard input.
func (h *nodeHost) Apply(ctx context.Context, file string, disableLogBin bool, ts string) error {
	dl := "0"
	if disableLogBin {
		dl = "1"
	}
	_, err := h.run(ctx, "apply_diff_relay_logs", h.srv.Password,
		"--command=apply",
		"--slave_user="+h.srv.User,
		"--slave_host="+h.srv.Hostname,
		"--slave_ip="+h.srv.IP,
		"--slave_port="+strconv.Itoa(h.srv.Port),
		"--apply_files="+file,
		"--workdir="+h.srv.RemoteWorkdir,
		"--timestamp="+ts,
		"--disable_log_bin="+dl,
		"--slave_pass_stdin",
	)
	return err
}

// move copies a file from one host to another through the manager's
// workdir (a database host needs no SSH access to the others); same means
// both are one host. The local copy stays in the manager's workdir, as MHA
// keeps saved binlogs there.
func move(ctx context.Context, from, to Node, remote, workdir string, same bool) (string, error) {
	if same {
		return remote, nil
	}
	local, err := from.Fetch(ctx, remote, workdir)
	if err != nil {
		return "", err
	}
	return to.Put(ctx, local)
}

// Find runs apply_diff_relay_logs --command=find on a replica: its relay
// logs must hold the source position target (where a target replica's
// missing events start), latest being the replica's own Read position.
func (h *nodeHost) Find(ctx context.Context, relayDir string, latest, target binlog.Pos) error {
	_, err := h.run(ctx, "apply_diff_relay_logs", "",
		"--command=find",
		"--latest_mlf="+latest.File,
		"--latest_rmlp="+strconv.FormatUint(latest.Offset, 10),
		"--target_mlf="+target.File,
		"--target_rmlp="+strconv.FormatUint(target.Offset, 10),
		"--relay_dir="+relayDir,
		"--workdir="+h.srv.RemoteWorkdir,
	)
	return err
}

// TestBinlogs runs save_binary_logs --command=test on the dead master: its
// binlog directory must hold binlogs named like startFile.
func (h *nodeHost) TestBinlogs(ctx context.Context, startFile, ts string) error {
	_, err := h.run(ctx, "save_binary_logs", "",
		"--command=test",
		"--start_file="+startFile,
		"--binlog_dir="+strings.Join(h.srv.MasterBinlogDir, ","),
		"--output_file="+filepath.Join(h.srv.RemoteWorkdir, "save_binary_logs_test_"+ts),
	)
	return err
}

// Fetch copies a file of this host into the manager's workdir (once).
func (h *nodeHost) Fetch(ctx context.Context, remote, workdir string) (string, error) {
	local := filepath.Join(workdir, filepath.Base(remote))
	if _, err := os.Stat(local); err == nil {
		return local, nil
	}
	if err := h.client.FetchFile(ctx, remote, local, 0o600); err != nil {
		return "", fmt.Errorf("fetch %s from %s: %w", remote, check.SSHName(h.srv), err)
	}
	return local, nil
}

// Put copies a local file into this host's remote_workdir.
func (h *nodeHost) Put(ctx context.Context, local string) (string, error) {
	dst := filepath.Join(h.srv.RemoteWorkdir, filepath.Base(local))
	if err := h.client.CopyFile(ctx, local, dst, 0o600); err != nil {
		return "", fmt.Errorf("copy %s to %s: %w", filepath.Base(local), check.SSHName(h.srv), err)
	}
	return dst, nil
}

// SelfTest is MHA's check_binlog at monitor start and in
// masterha_check_repl, for gomha's node tools: it logs in to srv (the
// master), installs or verifies mha-node in its remote_workdir and runs
// save_binary_logs --command=test there, which fails on a noexec mount,
// a remote_workdir that cannot be written, or a master_binlog_dir without
// binlogs named like startFile.
func SelfTest(ctx context.Context, binary string, srv config.Server, startFile string) error {
	hs := &hosts{binary: binary, m: map[string]*nodeHost{}}
	defer hs.Close()
	n, err := hs.Get(ctx, srv)
	if err != nil {
		return err
	}
	if err := n.(*nodeHost).TestBinlogs(ctx, startFile, "check"); err != nil {
		return fmt.Errorf("node tools self-test on %s (remote_workdir %s, master_binlog_dir %s): %w",
			check.SSHName(srv), srv.RemoteWorkdir, strings.Join(srv.MasterBinlogDir, ","), err)
	}
	return nil
}
