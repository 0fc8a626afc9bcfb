// Package journal is the failover's intent journal: a file in the
// manager's workdir that gets one fsynced record before each irreversible
// step of a failover and one after it, so that a manager killed at any
// point can tell, when it starts again, which step was done last and which
// one may have been half done.
//
// The file, <manager_workdir>/<app>.failover.journal, holds JSON lines:
//
//	{"at":"2026-12-03T08:10:01.5Z","kind":"begin","detail":{"dead_master":"db1(198.18.1.11:3306)"}}
//	{"at":"...","kind":"intent","step":"apply missing events","host":"db2(198.18.1.12:3306)"}
//	{"at":"...","kind":"done","step":"apply missing events","host":"db2(198.18.1.12:3306)"}
//	{"at":"...","kind":"end","outcome":"0"}
//
// An online master switch (`mha switch --master_state=alive`) keeps its own
// journal, <manager_workdir>/<app>.switch.journal, of the same form (Op,
// CreateOf, ReadOf): a killed switch can leave the old master read_only=1.
//
// A journal without its "end" record is an unfinished failover. Records
// are appended with O_APPEND and each is fsynced before the call returns;
// a torn last line (a crash in the middle of a write) is ignored when the
// journal is read.
package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Record kinds.
const (
	KindBegin  = "begin"
	KindIntent = "intent"
	KindDone   = "done"
	KindEnd    = "end"
)

// Sentinel errors.
var (
	// ErrUnfinished reports a journal left by a failover that did not end:
	// the manager was killed or the machine stopped in the middle.
	ErrUnfinished = errors.New("an earlier failover did not finish")
)

// Record is one line of the journal.
type Record struct {
	At      time.Time         `json:"at"`
	Kind    string            `json:"kind"`
	Step    string            `json:"step,omitempty"`
	Host    string            `json:"host,omitempty"`
	Detail  map[string]string `json:"detail,omitempty"`
	Outcome string            `json:"outcome,omitempty"`
}

// Op is the operation a journal records; it names the file.
type Op string

// Operations with a journal.
const (
	// OpFailover is a dead-master failover: <app>.failover.journal.
	OpFailover Op = "failover"
	// OpSwitch is an online master switch: <app>.switch.journal.
	OpSwitch Op = "switch"
)

// PathOf is the journal file of op for app in workdir.
func PathOf(op Op, workdir, app string) string {
	return filepath.Join(workdir, app+"."+string(op)+".journal")
}

// Path is the failover journal file of app in workdir.
func Path(workdir, app string) string { return PathOf(OpFailover, workdir, app) }

// Journal appends records to one failover's journal. It is safe for
// concurrent use (replicas are recovered in parallel).
type Journal struct {
	mu   sync.Mutex
	f    *os.File
	path string
	now  func() time.Time
}

// Create starts the journal of a new failover of app: the previous
// journal, finished or not, is kept as <file>.prev, and a "begin" record
// with detail is written and fsynced before Create returns.
func Create(workdir, app string, detail map[string]string) (*Journal, error) {
	return CreateOf(OpFailover, workdir, app, detail)
}

// CreateOf is Create for the journal of op.
func CreateOf(op Op, workdir, app string, detail map[string]string) (*Journal, error) {
	p := PathOf(op, workdir, app)
	if _, err := os.Stat(p); err == nil {
		if err := os.Rename(p, p+".prev"); err != nil {
			return nil, fmt.Errorf("journal: keep the previous journal: %w", err)
		}
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %w", err)
	}
	j := &Journal{f: f, path: p, now: time.Now}
	if err := j.write(Record{Kind: KindBegin, Detail: detail}); err != nil {
		f.Close()
		return nil, err
	}
	return j, nil
}

// Open reopens app's existing journal in workdir to append to it: a
// resumed failover records its steps and its end in the journal of the
// failover it finishes. A missing journal is an error.
func Open(workdir, app string) (*Journal, error) {
	p := Path(workdir, app)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return &Journal{f: f, path: p, now: time.Now}, nil
}

// File is the journal's path.
func (j *Journal) File() string { return j.path }

// Intent records that step is about to run on host. It returns only once
// the record is on disk.
func (j *Journal) Intent(step, host string, detail map[string]string) error {
	return j.write(Record{Kind: KindIntent, Step: step, Host: host, Detail: detail})
}

// Done records that step finished on host.
func (j *Journal) Done(step, host string, detail map[string]string) error {
	return j.write(Record{Kind: KindDone, Step: step, Host: host, Detail: detail})
}

// End records the failover's outcome (its exit code, or a word) and
// closes the journal.
func (j *Journal) End(outcome string) error {
	err := j.write(Record{Kind: KindEnd, Outcome: outcome})
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f != nil {
		if cerr := j.f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("journal: %w", cerr)
		}
		j.f = nil
	}
	return err
}

// Close closes the journal without an "end" record (the failover is then
// unfinished, as after a crash).
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}

func (j *Journal) write(r Record) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return errors.New("journal: closed")
	}
	r.At = j.now().UTC()
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("journal %s: fsync: %w", j.path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// State is what a journal says about its failover (or switch).
type State struct {
	// Op is the operation the journal records.
	Op Op
	// File is the journal read.
	File string
	// Begin is the "begin" record.
	Begin Record
	// Records are every record after Begin, in order.
	Records []Record
	// Ended is true when the "end" record was written; Outcome is its
	// outcome.
	Ended   bool
	Outcome string
}

// Read reads app's failover journal in workdir. It returns nil and no
// error when there is none.
func Read(workdir, app string) (*State, error) { return ReadOf(OpFailover, workdir, app) }

// ReadOf is Read for the journal of op.
func ReadOf(op Op, workdir, app string) (*State, error) {
	p := PathOf(op, workdir, app)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return parse(op, p, b)
}

func parse(op Op, path string, b []byte) (*State, error) {
	s := &State{Op: op, File: path}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	first := true
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var r Record
		if err := json.Unmarshal([]byte(text), &r); err != nil {
			// A torn line can only be the last one: a crash during its
			// write. Anything else is a damaged journal.
			if !bytes.Contains(b[bytes.Index(b, []byte(text))+len(text):], []byte("\n{")) {
				break
			}
			return nil, fmt.Errorf("journal %s:%d: unreadable record: %w", path, line, err)
		}
		if first {
			if r.Kind != KindBegin {
				return nil, fmt.Errorf("journal %s:%d: first record is %q, not %q", path, line, r.Kind, KindBegin)
			}
			s.Begin, first = r, false
			continue
		}
		s.Records = append(s.Records, r)
		if r.Kind == KindEnd {
			s.Ended, s.Outcome = true, r.Outcome
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	if first {
		return nil, fmt.Errorf("journal %s: empty", path)
	}
	return s, nil
}

// Unfinished reports whether the failover (or switch) did not reach its
// end.
func (s *State) Unfinished() bool { return s != nil && !s.Ended }

// LastIntent is the last step that was started, and whether its "done"
// record follows (false: it may be half done). ok is false when no step
// was started.
func (s *State) LastIntent() (r Record, done, ok bool) {
	for i := len(s.Records) - 1; i >= 0; i-- {
		x := s.Records[i]
		if x.Kind != KindIntent {
			continue
		}
		for _, y := range s.Records[i+1:] {
			if y.Kind == KindDone && y.Step == x.Step && y.Host == x.Host {
				return x, true, true
			}
		}
		return x, false, true
	}
	return Record{}, false, false
}

// LastDone is the last step confirmed done; ok is false when none was.
func (s *State) LastDone() (r Record, ok bool) {
	for i := len(s.Records) - 1; i >= 0; i-- {
		if s.Records[i].Kind == KindDone {
			return s.Records[i], true
		}
	}
	return Record{}, false
}

// Pending lists the steps started and never confirmed done, in order.
func (s *State) Pending() []Record {
	var out []Record
	for i, x := range s.Records {
		if x.Kind != KindIntent {
			continue
		}
		done := false
		for _, y := range s.Records[i+1:] {
			if y.Kind == KindDone && y.Step == x.Step && y.Host == x.Host {
				done = true
				break
			}
		}
		if !done {
			out = append(out, x)
		}
	}
	return out
}

// Summary says in one paragraph what the journal tells: when the
// failover (or switch) began, its last step, and the steps that may be
// half done.
func (s *State) Summary() string {
	var b strings.Builder
	op := s.Op
	if op == "" {
		op = OpFailover
	}
	fmt.Fprintf(&b, "%s journal %s: begun at %s", op, s.File, s.Begin.At.Format(time.RFC3339))
	if dm := s.Begin.Detail["dead_master"]; dm != "" {
		fmt.Fprintf(&b, " (dead master %s)", dm)
	}
	if nm := s.Begin.Detail["new_master"]; nm != "" {
		fmt.Fprintf(&b, " (new master %s)", nm)
	}
	if s.Ended {
		fmt.Fprintf(&b, ", ended with outcome %s", s.Outcome)
		return b.String()
	}
	r, done, ok := s.LastIntent()
	switch {
	case !ok:
		b.WriteString(", no irreversible step was started")
	case done:
		fmt.Fprintf(&b, ", last step done: %q on %s at %s", r.Step, r.Host, r.At.Format(time.RFC3339Nano))
	default:
		fmt.Fprintf(&b, ", last step started and NOT confirmed done: %q on %s at %s", r.Step, r.Host, r.At.Format(time.RFC3339Nano))
	}
	if p := s.Pending(); len(p) > 0 {
		var names []string
		for _, x := range p {
			names = append(names, fmt.Sprintf("%q on %s", x.Step, x.Host))
		}
		fmt.Fprintf(&b, "; possibly half done: %s", strings.Join(names, ", "))
	}
	return b.String()
}
