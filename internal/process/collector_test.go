package process

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/testenv"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/exposition"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

func newEmitter() *collector.Emitter { return collector.NewEmitter() }

// sampleValue returns the first sample of family name whose first label
// value is first (-1 when there is none).
func sampleValue(e *collector.Emitter, name, first string, rest ...string) float64 {
	for _, f := range e.Families() {
		if f.Desc.Name != name {
			continue
		}
		for _, s := range f.Samples {
			if len(s.LabelValues) > 0 && s.LabelValues[0] == first && slices.Equal(s.LabelValues[1:], rest) {
				return s.Value
			}
		}
	}
	return -1
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func fixtureCollector(t *testing.T, cfg Config) (*Collector, string) {
	t.Helper()
	s, proc := fixtureScanner(t)
	s.now = func() time.Time { return time.Unix(1767300000, 0) }
	c, err := NewCollector(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, proc
}

func collect(t *testing.T, c *Collector) *collector.Emitter {
	t.Helper()
	e := collector.NewEmitter()
	if err := c.Collect(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	return e
}

// groupsOf returns each grouped PID's group name after one collection.
func groupsOf(t *testing.T, cfg Config) map[int]string {
	t.Helper()
	c, _ := fixtureCollector(t, cfg)
	collect(t, c)
	out := map[int]string{}
	for k, m := range c.members {
		if m.group != nil {
			out[k.pid] = m.group.lbl[0]
		}
	}
	return out
}

func TestMatchers(t *testing.T) {
	no := false
	tests := []struct {
		name string
		cfg  Config
		want map[int]string
	}{
		{"default by comm", Config{}, map[int]string{
			1: "systemd", 2: "kthreadd", 3: "kworker/0:1-events", 200: "python3", 201: "python3", 202: "nvidia-smi",
			203: "python3", 300: "python3", 410: "python", 420: "python3", 600: "sshd"}},
		// The default name is {{.ExeBase}}: sshd rewrote its argv[0].
		{"comm list", Config{Groups: []Matcher{{Comm: []string{"python", "sshd"}}}, Children: &no}, map[int]string{
			410: "python", 600: "sshd: alice [priv]"}},
		{"exe basename and full path", Config{Groups: []Matcher{
			{Name: "full", Exe: []string{"/usr/bin/python3", "/sbin/init"}},
			{Name: "base", Exe: []string{"python3"}},
		}, Children: &no}, map[int]string{1: "full", 200: "base", 201: "base", 203: "base", 300: "base", 420: "full"}},
		{"default name is ExeBase", Config{Groups: []Matcher{{Exe: []string{"/usr/bin/python3", "init"}}}, Children: &no},
			map[int]string{1: "init", 420: "python3"}},
		{"cmdline regexps are ANDed, captures", Config{Groups: []Matcher{
			{Name: "{{.Matches.script}}-{{.Username}}", Cmdline: []string{`(?P<script>[^ /]+)\.py`, `--`}},
		}, Children: &no}, map[int]string{200: "train-alice", 201: "train-alice", 300: "finetune-bob"}},
		{"first match wins", Config{Groups: []Matcher{
			{Name: "first", Comm: []string{"python3"}, Cmdline: []string{` train\.py`}},
			{Name: "second", Comm: []string{"python3", "python"}},
		}, Children: &no}, map[int]string{200: "first", 201: "first", 203: "second", 300: "second", 410: "second", 420: "second"}},
		{"children join the nearest grouped ancestor", Config{Groups: []Matcher{
			{Name: "train", Cmdline: []string{` train\.py`}},
		}}, map[int]string{200: "train", 201: "train", 202: "train", 203: "train"}},
		{"template fields", Config{Groups: []Matcher{
			{Name: "{{.Comm}}|{{.ExeBase}}|{{.ExeFull}}|{{.PID}}|{{.StartTime.Unix}}|{{range .Cgroups}}{{.}}{{end}}", Exe: []string{"/usr/bin/python3"}},
		}, Children: &no}, map[int]string{420: "python3|python3|/usr/bin/python3|420|1767229800|/system.slice/slurmstepd.scope/job_5678/step_0/user/task_0"}},
		{"training example", Config{GroupsFile: "testdata/groups.yaml"}, map[int]string{
			1: "systemd", 200: "train:train.py", 201: "train:train.py", 202: "train:train.py", 203: "train:train.py",
			300: "train:finetune.py", 410: "train:eval.py", 420: "train:pretrain.py", 600: "sshd"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := groupsOf(t, tt.cfg)
			if len(got) != len(tt.want) {
				t.Errorf("got %v\nwant %v", got, tt.want)
			}
			for pid, g := range tt.want {
				if got[pid] != g {
					t.Errorf("pid %d: group %q, want %q", pid, got[pid], g)
				}
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no selector", Config{Groups: []Matcher{{Name: "x"}}},
			"process: process_names[0]: no comm, exe or cmdline selector; give at least one (cmdline: ['.+'] matches every process with a command line)"},
		{"bad regexp", Config{Groups: []Matcher{{Comm: []string{"a"}}, {Cmdline: []string{"a", "(x"}}}},
			"process: process_names[1].cmdline[1]: \"(x\" is not a Go regular expression: error parsing regexp: missing closing ): `(x`"},
		{"bad template", Config{Groups: []Matcher{{Name: "{{.Comm", Comm: []string{"a"}}}},
			"process: process_names[0].name: \"{{.Comm\" is not a valid Go template: template: process_names[0].name:1: unclosed action"},
		{"unknown template field", Config{Groups: []Matcher{{Name: "{{.Exe}}", Comm: []string{"a"}}}},
			"process: process_names[0].name: \"{{.Exe}}\": template: process_names[0].name:1:2: executing \"process_names[0].name\" at <.Exe>: can't evaluate field Exe in type process.templateData (fields: .Comm .ExeBase .ExeFull .Username .Matches.NAME .PID .StartTime .Cgroups)"},
		{"both", Config{Groups: []Matcher{{Comm: []string{"a"}}}, GroupsFile: "g.yaml"},
			"process: set either process_names or groups_file (g.yaml), not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(fixtureRootsOnly(t), tt.cfg)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v\nwant  %s", err, tt.want)
			}
		})
	}
}

func TestGroupsFileErrors(t *testing.T) {
	tests := []struct{ name, content, want string }{
		{"empty", "", "process: groups file %s is empty; expected a process_names: list of matchers"},
		{"no entries", "process_names: []\n", "process: groups file %s has no process_names entries"},
		{"unknown key", "process_names:\n  - comm: [a]\n    cmd: [b]\n",
			"process: groups file %s: yaml: unmarshal errors:\n  line 3: field cmd not found in type process.Matcher (expected process-exporter's format: process_names: [{name, comm, exe, cmdline}])"},
		{"bad yaml", "process_names:\n  - comm: [a\n",
			"process: groups file %s: yaml: line 1: did not find expected ',' or ']' (expected process-exporter's format: process_names: [{name, comm, exe, cmdline}])"},
		{"bad regexp", "process_names:\n  - cmdline: ['(']\n",
			"process: groups file %s: process_names[0].cmdline[0]: \"(\" is not a Go regular expression: error parsing regexp: missing closing ): `(`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, "groups.yaml", tt.content)
			_, err := LoadGroupsFile(p)
			want := strings.Replace(tt.want, "%s", p, 1)
			if err == nil || err.Error() != want {
				t.Fatalf("err = %v\nwant  %s", err, want)
			}
		})
	}
	if _, err := LoadGroupsFile("testdata/nope.yaml"); err == nil || !strings.Contains(err.Error(), "testdata/nope.yaml") {
		t.Fatalf("missing file: %v", err)
	}
}

func fixtureRootsOnly(t *testing.T) (r hostfs.Roots) {
	r, _ = fixtureRoots(t)
	return r
}

// TestGolden compares the exposition of the fixture's groups (training
// example config) and top processes with testdata/golden.prom.
// UPDATE_GOLDEN=1 in the environment rewrites the file.
func TestGolden(t *testing.T) {
	c, _ := fixtureCollector(t, Config{GroupsFile: "testdata/groups.yaml", TopN: 3})
	got := exposition.AppendText(nil, collector.MergeFamilies(collect(t, c).Families()))
	testenv.Golden(t, "testdata/golden.prom", got)
}

// TestCountersMonotonic removes processes between collections: the
// groups' counters keep their departed members' totals.
func TestCountersMonotonic(t *testing.T) {
	c, proc := fixtureCollector(t, Config{GroupsFile: "testdata/groups.yaml"})
	counters := []string{
		"namedprocess_namegroup_cpu_seconds_total", "namedprocess_namegroup_read_bytes_total",
		"namedprocess_namegroup_write_bytes_total", "namedprocess_namegroup_major_page_faults_total",
		"namedprocess_namegroup_minor_page_faults_total", "namedprocess_namegroup_context_switches_total",
	}
	values := func(e *collector.Emitter) map[string]float64 {
		out := map[string]float64{}
		for _, f := range e.Families() {
			if !slices.Contains(counters, f.Desc.Name) {
				continue
			}
			for _, s := range f.Samples {
				out[f.Desc.Name+strings.Join(s.LabelValues, ",")] = s.Value
			}
		}
		return out
	}
	before := collect(t, c)
	if n := sampleValue(before, "namedprocess_namegroup_num_procs", "train:train.py"); n != 4 {
		t.Fatalf("train:train.py has %v processes, want 4", n)
	}
	b := values(before)
	// The data loader and the zombie exit, and the last process of
	// group sshd.
	for _, pid := range []string{"201", "203", "600"} {
		if err := os.RemoveAll(filepath.Join(proc, pid)); err != nil {
			t.Fatal(err)
		}
	}
	after := collect(t, c)
	if n := sampleValue(after, "namedprocess_namegroup_num_procs", "train:train.py"); n != 2 {
		t.Fatalf("train:train.py has %v processes after the exits, want 2", n)
	}
	if n := sampleValue(after, "namedprocess_namegroup_num_procs", "sshd"); n != 0 {
		t.Fatalf("sshd has %v processes after its exit, want 0 (the group stays)", n)
	}
	a := values(after)
	if len(a) != len(b) {
		t.Fatalf("%d counters before, %d after", len(b), len(a))
	}
	for k, v := range b {
		if a[k] < v {
			t.Errorf("%s went from %v to %v", k, v, a[k])
		}
		if a[k] != v {
			t.Errorf("%s changed from %v to %v though no remaining process changed", k, v, a[k])
		}
	}
	if v := sampleValue(after, "namedprocess_namegroup_cpu_seconds_total", "train:train.py", "user"); v != 3690.5 {
		t.Errorf("train:train.py user seconds %v", v)
	}
}

func TestTopProcesses(t *testing.T) {
	c, _ := fixtureCollector(t, Config{TopN: 1})
	e := collect(t, c)
	// The first scan has no rates: CPU and I/O ties are broken by PID
	// (1), RSS's top is 200.
	var pids []string
	for _, f := range e.Families() {
		if f.Desc.Name == "trainwatch_process_resident_memory_bytes" {
			for _, s := range f.Samples {
				pids = append(pids, s.LabelValues[0]+"/"+s.LabelValues[1]+"/"+s.LabelValues[2])
			}
		}
	}
	if want := []string{"1/systemd/root", "200/python3/alice"}; !slices.Equal(pids, want) {
		t.Fatalf("top processes %v, want %v", pids, want)
	}
	off, _ := fixtureCollector(t, Config{TopN: -1})
	if n := sampleValue(collect(t, off), "trainwatch_process_cpu_percent", "1", "systemd", "root"); n != -1 {
		t.Fatal("TopN -1 still emits top processes")
	}
}

// TestRemoveEmptyGroups: a group without processes is dropped once it has
// been empty for RemoveEmptyAfter (default 10 minutes), kept before that,
// and kept forever with a negative value; a group that comes back starts
// again.
func TestRemoveEmptyGroups(t *testing.T) {
	tests := []struct {
		name        string
		removeAfter time.Duration
		emptyFor    time.Duration
		wantGroup   bool
	}{
		{"default, empty 5 minutes", 0, 5 * time.Minute, true},
		{"default, empty 11 minutes", 0, 11 * time.Minute, false},
		{"1 minute, empty 2 minutes", time.Minute, 2 * time.Minute, false},
		{"kept forever", -1, 24 * time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, proc := fixtureCollector(t, Config{GroupsFile: "testdata/groups.yaml", RemoveEmptyAfter: tt.removeAfter})
			start := time.Unix(1767300000, 0)
			c.scanner.now = func() time.Time { return start }
			if n := sampleValue(collect(t, c), "namedprocess_namegroup_num_procs", "sshd"); n != 1 {
				t.Fatalf("sshd has %v processes, want 1", n)
			}
			if err := os.RemoveAll(filepath.Join(proc, "600")); err != nil {
				t.Fatal(err)
			}
			c.scanner.now = func() time.Time { return start.Add(time.Second) }
			if n := sampleValue(collect(t, c), "namedprocess_namegroup_num_procs", "sshd"); n != 0 {
				t.Fatalf("sshd has %v processes just after its exit, want 0 (still a group)", n)
			}
			c.scanner.now = func() time.Time { return start.Add(time.Second + tt.emptyFor) }
			e := collect(t, c)
			got := sampleValue(e, "namedprocess_namegroup_num_procs", "sshd") != -1
			if got != tt.wantGroup {
				t.Fatalf("sshd group present = %v after %s empty, want %v", got, tt.emptyFor, tt.wantGroup)
			}
			if sampleValue(e, "namedprocess_namegroup_num_procs", "train:train.py") != 4 {
				t.Fatal("a busy group was touched")
			}
			if _, ok := c.groups["sshd"]; ok != tt.wantGroup {
				t.Fatalf("sshd kept in memory = %v, want %v", ok, tt.wantGroup)
			}
			if len(c.names) != len(c.groups) {
				t.Fatalf("%d names for %d groups", len(c.names), len(c.groups))
			}
		})
	}
}
