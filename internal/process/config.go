package process

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
	"time"

	"gopkg.in/yaml.v3"
)

// Config configures the process collector. The zero value groups every
// process by its comm (as process-exporter's packaged config does), with
// children joining their parent's group, and reports the top 10
// processes.
type Config struct {
	// Groups are process-exporter matchers (its config file's
	// process_names list). The first that matches a process names its
	// group; a process no matcher matches is not grouped (see Children).
	// Empty: group by comm.
	Groups []Matcher `yaml:"process_names"`
	// GroupsFile is a process-exporter config file (YAML with a
	// process_names key) to read the matchers from instead of Groups.
	GroupsFile string `yaml:"groups_file"`
	// Children (default true) puts a process no matcher matches into the
	// group of its nearest grouped ancestor (process-exporter's -children).
	Children *bool `yaml:"children"`
	// TopN is how many processes are reported by CPU, by resident memory
	// and by I/O rate each (their union is reported). 0 means 10; a
	// negative value turns the per-process series off.
	TopN int `yaml:"top_n"`
	// Interval, when set, makes the Runner scan only this often.
	Interval time.Duration `yaml:"interval"`
	// RemoveEmptyAfter drops a group that has had no process for this
	// long (its series go stale; its counters start again from 0 if it
	// comes back), as process-exporter's -remove-empty-groups does at
	// once. 0 means DefaultRemoveEmptyAfter; a negative value keeps
	// every group forever (process-exporter's default). Grouped by comm,
	// every short-lived command (a compiler, a shell, a build step) would
	// otherwise add a group and its 25 series for good.
	RemoveEmptyAfter time.Duration `yaml:"remove_empty_after"`
}

// DefaultRemoveEmptyAfter is how long an empty group is kept by default.
const DefaultRemoveEmptyAfter = 10 * time.Minute

// Matcher is one entry of process-exporter's process_names.
type Matcher struct {
	// Name is a Go template for the group name; default "{{.ExeBase}}".
	// Fields: .Comm .ExeBase .ExeFull .Username .Matches (map of the
	// cmdline regexps' named captures) .PID .StartTime .Cgroups.
	Name string `yaml:"name"`
	// Comm matches /proc/PID/stat's comm exactly; any of the list.
	Comm []string `yaml:"comm"`
	// Exe matches argv[0]: an entry without '/' is compared with
	// argv[0]'s base name, one with '/' with all of argv[0]; any of the list.
	Exe []string `yaml:"exe"`
	// Cmdline are regular expressions that must all match the command
	// line (arguments joined by spaces); named captures fill .Matches.
	Cmdline []string `yaml:"cmdline"`
}

// matcher is a compiled Matcher.
type matcher struct {
	comm    map[string]bool
	exeBase map[string]bool
	exeFull map[string]bool
	cmdline []*regexp.Regexp
	name    *template.Template
}

// groupsFile is process-exporter's config file.
type groupsFile struct {
	ProcessNames []Matcher `yaml:"process_names"`
}

// LoadGroupsFile reads a process-exporter config file's matchers. Errors
// name the file and say what was wrong.
func LoadGroupsFile(path string) ([]Matcher, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("process: read groups file: %w", err)
	}
	return parseGroupsFile(path, b)
}

func parseGroupsFile(path string, b []byte) ([]Matcher, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f groupsFile
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("process: groups file %s is empty; expected a process_names: list of matchers", path)
		}
		return nil, fmt.Errorf("process: groups file %s: %v (expected process-exporter's format: process_names: [{name, comm, exe, cmdline}])", path, err)
	}
	if len(f.ProcessNames) == 0 {
		return nil, fmt.Errorf("process: groups file %s has no process_names entries", path)
	}
	if _, err := compileMatchers(f.ProcessNames); err != nil {
		return nil, fmt.Errorf("process: groups file %s: %w", path, err)
	}
	return f.ProcessNames, nil
}

func compileMatchers(ms []Matcher) ([]*matcher, error) {
	out := make([]*matcher, 0, len(ms))
	for i, m := range ms {
		if len(m.Comm) == 0 && len(m.Exe) == 0 && len(m.Cmdline) == 0 {
			return nil, fmt.Errorf("process_names[%d]: no comm, exe or cmdline selector; give at least one (cmdline: ['.+'] matches every process with a command line)", i)
		}
		c := &matcher{}
		if len(m.Comm) > 0 {
			c.comm = make(map[string]bool)
			for _, s := range m.Comm {
				c.comm[s] = true
			}
		}
		for _, s := range m.Exe {
			if strings.Contains(s, "/") {
				if c.exeFull == nil {
					c.exeFull = make(map[string]bool)
				}
				c.exeFull[s] = true
			} else {
				if c.exeBase == nil {
					c.exeBase = make(map[string]bool)
				}
				c.exeBase[s] = true
			}
		}
		for j, s := range m.Cmdline {
			re, err := regexp.Compile(s)
			if err != nil {
				return nil, fmt.Errorf("process_names[%d].cmdline[%d]: %q is not a Go regular expression: %v", i, j, s, err)
			}
			c.cmdline = append(c.cmdline, re)
		}
		name := m.Name
		if name == "" {
			name = "{{.ExeBase}}"
		}
		t, err := template.New(fmt.Sprintf("process_names[%d].name", i)).Option("missingkey=zero").Parse(name)
		if err != nil {
			return nil, fmt.Errorf("process_names[%d].name: %q is not a valid Go template: %v", i, name, err)
		}
		// Execute once on sample data so that a template naming an
		// unknown field fails at start, not on the first process.
		if err := t.Execute(io.Discard, templateData{Matches: map[string]string{}}); err != nil {
			return nil, fmt.Errorf("process_names[%d].name: %q: %v (fields: .Comm .ExeBase .ExeFull .Username .Matches.NAME .PID .StartTime .Cgroups)", i, name, err)
		}
		c.name = t
		out = append(out, c)
	}
	return out, nil
}

// templateData is what a group name template sees.
type templateData struct {
	Comm, ExeBase, ExeFull, Username string
	Matches                          map[string]string
	PID                              int
	StartTime                        time.Time
	Cgroups                          []string
}

// match returns the group name p gets from m, or false.
func (m *matcher) match(p *Proc, buf *strings.Builder) (string, bool, error) {
	if m.comm != nil && !m.comm[p.Comm] {
		return "", false, nil
	}
	exeFull := p.Exe
	exeBase := filepath.Base(exeFull)
	if exeFull == "" {
		exeFull, exeBase = p.Comm, p.Comm
	}
	if m.exeBase != nil || m.exeFull != nil {
		if !m.exeBase[exeBase] && !m.exeFull[exeFull] {
			return "", false, nil
		}
	}
	var matches map[string]string
	for _, re := range m.cmdline {
		sub := re.FindStringSubmatch(p.Cmdline)
		if sub == nil {
			return "", false, nil
		}
		for i, n := range re.SubexpNames() {
			if n != "" {
				if matches == nil {
					matches = make(map[string]string)
				}
				matches[n] = sub[i]
			}
		}
	}
	if matches == nil {
		matches = map[string]string{}
	}
	var cgroups []string
	if p.Cgroup != "" {
		cgroups = []string{p.Cgroup}
	}
	buf.Reset()
	err := m.name.Execute(buf, templateData{
		Comm: p.Comm, ExeBase: exeBase, ExeFull: exeFull, Username: p.User,
		Matches: matches, PID: p.PID, StartTime: p.StartTime, Cgroups: cgroups,
	})
	if err != nil {
		return "", false, err
	}
	return buf.String(), true, nil
}
