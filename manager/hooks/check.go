package hooks

import (
	"errors"
	"fmt"
	"os/exec"

	"github.com/gomha/gomha/manager/config"
)

// ErrProgram: the program of a configured hook command cannot be found or
// is not executable.
var ErrProgram = errors.New("hook program not runnable")

// ConfigError is one configured hook command that cannot be run.
type ConfigError struct {
	// Where locates the value: the application file, the block it was
	// first seen in (its header line), the parameter, and what is wrong.
	Where config.Problem
	// Value is the configured command; Program its first word, "" when
	// the value does not split.
	Value, Program string
	// Err is a *CommandError (wrapping ErrEmptyCommand,
	// ErrUnterminatedQuote or ErrNeedsShell) or wraps ErrProgram.
	Err error
}

// Error reads like a config problem:
// "/etc/mha/app1.cnf: [server default] report_script: program ...".
func (e *ConfigError) Error() string { return e.Where.String() }

// Unwrap returns the cause.
func (e *ConfigError) Unwrap() error { return e.Err }

// hookParams are the hook parameters a server's Params carry.
// init_conf_load_script is run by config.Load itself.
var hookParams = []struct {
	name string
	get  func(config.Params) string
}{
	{"master_ip_failover_script", func(p config.Params) string { return p.MasterIPFailoverScript }},
	{"master_ip_online_change_script", func(p config.Params) string { return p.MasterIPOnlineChangeScript }},
	{"shutdown_script", func(p config.Params) string { return p.ShutdownScript }},
	{"report_script", func(p config.Params) string { return p.ReportScript }},
	{"secondary_check_script", func(p config.Params) string { return p.SecondaryCheckScript }},
}

// CheckConfig checks every hook command set in cfg's [server default] or
// in any server block: it must split ([SplitCommand]) and its program must
// exist and be executable (looked up in PATH when it has no slash, as Run
// does). It returns one *ConfigError per distinct parameter and value,
// located where the value is first seen (values inherited by every block
// are reported once, at [server default]); nil when all is well.
//
// A report_script whose program is missing is left out, as MHA only
// notices it when the report is sent, at the end of a failover, and logs an
// error there: [MissingReportScript] returns it for a warning at start.
func CheckConfig(cfg *config.Config) []error {
	errs, _ := checkConfig(cfg)
	return errs
}

// MissingReportScript returns the report_script values whose program
// cannot be found or run, as *ConfigError; CheckConfig leaves them out.
func MissingReportScript(cfg *config.Config) []error {
	_, missing := checkConfig(cfg)
	return missing
}

func checkConfig(cfg *config.Config) (errs, missingReport []error) {
	type key struct{ param, value string }
	seen := make(map[key]bool)
	check := func(section string, line int, p config.Params) {
		for _, h := range hookParams {
			v := h.get(p)
			if v == "" || seen[key{h.name, v}] {
				continue
			}
			seen[key{h.name, v}] = true
			if err := checkCommand(v); err != nil {
				err.Where = config.Problem{File: cfg.File, Line: line, Section: section, Key: h.name, Msg: err.Err.Error(), Err: err.Err}
				if h.name == "report_script" && errors.Is(err.Err, ErrProgram) {
					missingReport = append(missingReport, err)
					continue
				}
				errs = append(errs, err)
			}
		}
	}
	check("server default", 0, cfg.Default)
	for _, s := range cfg.Servers {
		check(s.Block, s.Line, s.Params)
	}
	return errs, missingReport
}

// checkCommand returns what makes value unrunnable, or nil. Where is
// filled in by the caller.
func checkCommand(value string) *ConfigError {
	argv, err := SplitCommand(value)
	if err != nil {
		return &ConfigError{Value: value, Err: err}
	}
	prog := argv[0]
	if _, err := exec.LookPath(prog); err != nil {
		var why string
		switch {
		case errors.Is(err, exec.ErrNotFound):
			why = "not found in PATH"
		case errors.Is(err, exec.ErrDot):
			why = "found only relative to the current directory; give its full path"
		default:
			why = err.Error()
			if ee := (*exec.Error)(nil); errors.As(err, &ee) {
				why = ee.Err.Error() // no such file, permission denied, is a directory
			}
		}
		return &ConfigError{Value: value, Program: prog, Err: fmt.Errorf("%w: program %q of %q: %s", ErrProgram, prog, value, why)}
	}
	return nil
}
