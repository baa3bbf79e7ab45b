package system

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

func TestNewNames(t *testing.T) {
	cs, err := New(fixtureRoots("host"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cs {
		got = append(got, c.Name())
	}
	want := "uname os time timex entropy filefd processes kernel_hung"
	if strings.Join(got, " ") != want {
		t.Fatalf("collectors = %v, want %s", got, want)
	}
}

// --- uname ---

func TestUnameCollector(t *testing.T) {
	c := newByName(t, fixtureRoots("host"), testConfig(), "uname")
	fams := collectOK(t, c)
	got := value(t, fams, "node_uname_info", "sysname", "Linux", "release", "6.8.0-60-generic",
		"version", "#63-Ubuntu SMP PREEMPT_DYNAMIC Tue Apr 15 19:04:15 UTC 2025", "machine", "x86_64",
		"nodename", "gpu-node-07", "domainname", "(none)")
	if got != 1 {
		t.Fatalf("node_uname_info = %v", got)
	}
	f := family(fams, "node_uname_info")
	if strings.Join(f.Desc.LabelNames, ",") != "sysname,release,version,machine,nodename,domainname" {
		t.Errorf("labels = %v", f.Desc.LabelNames)
	}
	again := collectOK(t, c)
	if &family(again, "node_uname_info").Samples[0].LabelValues[0] != &f.Samples[0].LabelValues[0] {
		t.Error("labels rebuilt although nothing changed")
	}
}

func TestUnameCollectorHostnameChange(t *testing.T) {
	dir := t.TempDir()
	kernel := dir + "/sys/kernel"
	if err := os.MkdirAll(kernel, 0o755); err != nil {
		t.Fatal(err)
	}
	for f, v := range map[string]string{"ostype": "Linux", "osrelease": "6.8.0", "version": "#1", "hostname": "a", "domainname": "(none)"} {
		writeFile(t, kernel+"/"+f, v+"\n")
	}
	c := newByName(t, hostfs.Roots{Proc: dir}, testConfig(), "uname")
	if got := family(collectOK(t, c), "node_uname_info").Label(0, "nodename"); got != "a" {
		t.Fatalf("nodename = %q", got)
	}
	writeFile(t, kernel+"/hostname", "b\n")
	if got := family(collectOK(t, c), "node_uname_info").Label(0, "nodename"); got != "b" {
		t.Fatalf("nodename after change = %q", got)
	}
}

func TestUnameCollectorErrors(t *testing.T) {
	_, err := collector.CollectOnce(t.Context(), newByName(t, fixtureRoots("broken"), testConfig(), "uname"))
	wantErr(t, err, "read kernel identity: open testdata/broken/proc/sys/kernel/osrelease: no such file or directory")
}

func TestUnameLive(t *testing.T) {
	roots := liveRoots(t, "proc", "sys/kernel/osrelease")
	fams := collectOK(t, newByName(t, roots, Config{}, "uname"))
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		t.Fatal(err)
	}
	f := family(fams, "node_uname_info")
	for label, want := range map[string]string{
		"sysname": cString(u.Sysname[:]), "release": cString(u.Release[:]), "version": cString(u.Version[:]),
		"machine": cString(u.Machine[:]), "nodename": cString(u.Nodename[:]), "domainname": cString(u.Domainname[:]),
	} {
		if got := f.Label(0, label); got != want {
			t.Errorf("%s = %q, uname(2) says %q", label, got, want)
		}
	}
}

// --- os ---

func TestParseOSRelease(t *testing.T) {
	const file = "/etc/os-release"
	tests := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr string
	}{
		{
			name: "quoting",
			in: "# comment\n\nNAME=\"Fedora Linux\"\nID=fedora\nIMAGE_ID='fedora server'\n" +
				"BUILD_ID=\"a \\\"quoted\\\" \\$build\"\nEMPTY=\nexport VARIANT_ID=server # inline comment\n",
			want: map[string]string{"NAME": "Fedora Linux", "ID": "fedora", "IMAGE_ID": "fedora server",
				"BUILD_ID": `a "quoted" $build`, "EMPTY": "", "VARIANT_ID": "server"},
		},
		{
			name: "unknown escape kept",
			in:   `PRETTY_NAME="a\qb"`,
			want: map[string]string{"PRETTY_NAME": `a\qb`},
		},
		{name: "no equals", in: "ID=x\nNAME\n", wantErr: `/etc/os-release:2: expected KEY=value (line: "NAME")`},
		{name: "bad key", in: "1ID=x\n", wantErr: `/etc/os-release:1: "1ID" is not a valid variable name (line: "1ID=x")`},
		{name: "empty key", in: "=x\n", wantErr: `/etc/os-release:1: "" is not a valid variable name (line: "=x")`},
		{name: "unterminated double quote", in: "NAME=\"Ubuntu\n", wantErr: `/etc/os-release:1: unterminated double-quoted value (line: "NAME=\"Ubuntu")`},
		{name: "unterminated single quote", in: "NAME='Ubuntu\n", wantErr: `/etc/os-release:1: unterminated single-quoted value (line: "NAME='Ubuntu")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseOSRelease(file, []byte(tt.in))
			if tt.wantErr != "" {
				wantErr(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOSCollector(t *testing.T) {
	fams := collectOK(t, newByName(t, fixtureRoots("host"), testConfig(), "os"))
	if got := names(fams); got != "node_os_info(1) node_os_version(1)" {
		t.Fatalf("families = %s", got)
	}
	if v := value(t, fams, "node_os_info", "build_id", "", "id", "ubuntu", "id_like", "debian", "image_id", "",
		"image_version", "", "name", "Ubuntu", "pretty_name", "Ubuntu 24.04.2 LTS", "variant", "", "variant_id", "",
		"version", "24.04.2 LTS (Noble Numbat)", "version_codename", "noble", "version_id", "24.04"); v != 1 {
		t.Errorf("node_os_info = %v", v)
	}
	if v := value(t, fams, "node_os_version", "id", "ubuntu", "id_like", "debian", "name", "Ubuntu"); v != 24.04 {
		t.Errorf("node_os_version = %v", v)
	}
}

func TestOSCollectorUsrLib(t *testing.T) {
	fams := collectOK(t, newByName(t, fixtureRoots("variant"), testConfig(), "os"))
	if got := names(fams); got != "node_os_info(1) node_os_version(1) node_os_support_end_timestamp_seconds(1)" {
		t.Fatalf("families = %s", got)
	}
	f := family(fams, "node_os_info")
	for label, want := range map[string]string{"id": "fedora", "variant": "Server Edition", "variant_id": "server",
		"image_id": "fedora-server", "build_id": `a "quoted" build`, "version_codename": ""} {
		if got := f.Label(0, label); got != want {
			t.Errorf("%s = %q, want %q", label, got, want)
		}
	}
	if v := value(t, fams, "node_os_version", "id", "fedora", "id_like", "", "name", "Fedora Linux"); v != 42 {
		t.Errorf("version = %v", v)
	}
	if v := value(t, fams, "node_os_support_end_timestamp_seconds"); v != float64(time.Date(2026, 5, 13, 0, 0, 0, 0, time.UTC).Unix()) {
		t.Errorf("support end = %v", v)
	}
}

func TestOSCollectorErrors(t *testing.T) {
	_, err := collector.CollectOnce(t.Context(), newByName(t, fixtureRoots("broken"), testConfig(), "os"))
	wantErr(t, err, `testdata/broken/etc/os-release:1: unterminated double-quoted value (line: "NAME=\"Ubuntu")`)
	_, err = collector.CollectOnce(t.Context(), newByName(t, fixtureRoots("none"), testConfig(), "os"))
	wantNoData(t, err)
	wantErr(t, err, "neither testdata/none/etc/os-release nor testdata/none/usr/lib/os-release exists: no data on this machine")
}

func TestOSLive(t *testing.T) {
	roots := hostfs.DefaultRoots()
	if _, err := os.Stat("/etc/os-release"); err != nil {
		if _, err := os.Stat("/usr/lib/os-release"); err != nil {
			t.Skip("no os-release on this machine")
		}
	}
	fams := collectOK(t, newByName(t, roots, Config{}, "os"))
	if id := family(fams, "node_os_info").Label(0, "id"); id == "" {
		t.Error("os-release without ID")
	}
}

// --- time ---

func TestTimeCollector(t *testing.T) {
	fams := collectOK(t, newByName(t, fixtureRoots("host"), testConfig(), "time"))
	want := "node_time_seconds(1) node_time_zone_offset_seconds(1) node_time_clocksource_available_info(3) node_time_clocksource_current_info(1)"
	if got := names(fams); got != want {
		t.Fatalf("families = %s\nwant       %s", got, want)
	}
	// node_exporter's float64(UnixNano)/1e9, not exactly .25.
	if v := value(t, fams, "node_time_seconds"); v != float64(testConfig().Now().UnixNano())/1e9 || v < 1772364600.24 || v > 1772364600.26 {
		t.Errorf("time = %v", v)
	}
	if v := value(t, fams, "node_time_zone_offset_seconds", "time_zone", "CET"); v != 3600 {
		t.Errorf("zone offset = %v", v)
	}
	for _, cs := range []string{"tsc", "hpet", "acpi_pm"} {
		value(t, fams, "node_time_clocksource_available_info", "device", "0", "clocksource", cs)
	}
	value(t, fams, "node_time_clocksource_current_info", "device", "0", "clocksource", "tsc")
}

func TestTimeCollectorWithoutClocksources(t *testing.T) {
	fams := collectOK(t, newByName(t, fixtureRoots("variant"), testConfig(), "time"))
	if got := names(fams); got != "node_time_seconds(1) node_time_zone_offset_seconds(1)" {
		t.Fatalf("families = %s", got)
	}
}

func TestTimeLive(t *testing.T) {
	fams := collectOK(t, newByName(t, hostfs.DefaultRoots(), Config{}, "time"))
	if d := time.Since(time.Unix(0, int64(value(t, fams, "node_time_seconds")*1e9))); d < 0 || d > time.Minute {
		t.Errorf("node_time_seconds is %v off", d)
	}
}

// --- timex ---

func TestTimexCollector(t *testing.T) {
	fams := collectOK(t, newByName(t, fixtureRoots("host"), testConfig(), "timex"))
	if n := len(fams); n != 18 {
		t.Fatalf("families = %s", names(fams))
	}
	checks := map[string]float64{
		"node_timex_sync_status":                  1,
		"node_timex_offset_seconds":               -1520e-9, // STA_NANO is set
		"node_timex_offset_overflow_total":        0,
		"node_timex_frequency_adjustment_ratio":   1 + -1096532/65536e6,
		"node_timex_maxerror_seconds":             0.0325,
		"node_timex_estimated_error_seconds":      0.0012,
		"node_timex_status":                       0x2001,
		"node_timex_loop_time_constant":           7,
		"node_timex_tick_seconds":                 0.01,
		"node_timex_pps_frequency_hertz":          0,
		"node_timex_pps_jitter_seconds":           0,
		"node_timex_pps_shift_seconds":            3,
		"node_timex_pps_stability_hertz":          0,
		"node_timex_pps_jitter_total":             0,
		"node_timex_pps_calibration_total":        0,
		"node_timex_pps_error_total":              0,
		"node_timex_pps_stability_exceeded_total": 0,
		"node_timex_tai_offset_seconds":           37,
	}
	for name, want := range checks {
		if got := value(t, fams, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if typ := family(fams, "node_timex_pps_error_total").Desc.Type; typ != collector.Counter {
		t.Errorf("pps_error_total type = %v", typ)
	}
}

func TestTimexCollectorStates(t *testing.T) {
	cfg := testConfig()
	cfg.Adjtimex = func(tx *syscall.Timex) (int, error) {
		tx.Offset = 5_000_000 // microseconds: 5 s, an overflow
		return timeError, nil
	}
	c := newByName(t, fixtureRoots("host"), cfg, "timex")
	collectOK(t, c)
	fams := collectOK(t, c)
	if v := value(t, fams, "node_timex_sync_status"); v != 0 {
		t.Errorf("sync = %v, want 0 in TIME_ERROR", v)
	}
	if v := value(t, fams, "node_timex_offset_seconds"); v != 5 {
		t.Errorf("offset = %v, want 5 (microseconds without STA_NANO)", v)
	}
	if v := value(t, fams, "node_timex_offset_overflow_total"); v != 2 {
		t.Errorf("overflows = %v, want 2", v)
	}

	cfg.Adjtimex = func(*syscall.Timex) (int, error) { return 0, syscall.EPERM }
	_, err := collector.CollectOnce(t.Context(), newByName(t, fixtureRoots("host"), cfg, "timex"))
	wantNoData(t, err)
	cfg.Adjtimex = func(*syscall.Timex) (int, error) { return 0, syscall.EINVAL }
	_, err = collector.CollectOnce(t.Context(), newByName(t, fixtureRoots("host"), cfg, "timex"))
	wantErr(t, err, "adjtimex: invalid argument")
}

func TestTimexLive(t *testing.T) {
	fams, err := collector.CollectOnce(t.Context(), newByName(t, hostfs.DefaultRoots(), Config{}, "timex"))
	if errors.Is(err, collector.ErrNoData) {
		t.Skipf("adjtimex not permitted: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if v := value(t, fams, "node_timex_tick_seconds"); v <= 0 || v > 1 {
		t.Errorf("tick = %v s", v)
	}
	if v := value(t, fams, "node_timex_frequency_adjustment_ratio"); v < 0.99 || v > 1.01 {
		t.Errorf("frequency ratio = %v", v)
	}
}

// --- entropy, filefd, kernel_hung ---

func TestEntropyCollector(t *testing.T) {
	fams := collectOK(t, newByName(t, fixtureRoots("host"), testConfig(), "entropy"))
	if value(t, fams, "node_entropy_available_bits") != 256 || value(t, fams, "node_entropy_pool_size_bits") != 256 {
		t.Fatalf("entropy = %s", names(fams))
	}
	fams = collectOK(t, newByName(t, fixtureRoots("variant"), testConfig(), "entropy"))
	if got := names(fams); got != "node_entropy_available_bits(1)" {
		t.Fatalf("without poolsize: %s", got)
	}
	_, err := collector.CollectOnce(t.Context(), newByName(t, fixtureRoots("broken"), testConfig(), "entropy"))
	wantErr(t, err, `read available entropy: testdata/broken/proc/sys/kernel/random/entropy_avail:1: expected an unsigned integer (line: "lots")`)
}

func TestParseFileNr(t *testing.T) {
	tests := []struct {
		in         string
		alloc, max uint64
		wantErr    string
	}{
		{in: "12736\t0\t9223372036854775807\n", alloc: 12736, max: 9223372036854775807},
		{in: "960 0 373439", alloc: 960, max: 373439},
		{in: "", wantErr: `file-nr:1: empty file; expected allocated, unused and maximum file handles (line: "")`},
		{in: "1\t0\n", wantErr: `file-nr:1: expected 3 fields (allocated, unused, maximum), got 2 (line: "1\t0")`},
		{in: "x\t0\t5\n", wantErr: `file-nr:1: allocated: "x" is not an unsigned integer (line: "x\t0\t5")`},
		{in: "1\t0\t-5\n", wantErr: `file-nr:1: maximum: "-5" is not an unsigned integer (line: "1\t0\t-5")`},
	}
	for _, tt := range tests {
		a, m, err := parseFileNr("file-nr", []byte(tt.in))
		if tt.wantErr != "" {
			wantErr(t, err, tt.wantErr)
			continue
		}
		if err != nil || a != tt.alloc || m != tt.max {
			t.Errorf("parseFileNr(%q) = %d %d %v", tt.in, a, m, err)
		}
	}
}

func TestFilefdCollector(t *testing.T) {
	fams := collectOK(t, newByName(t, fixtureRoots("host"), testConfig(), "filefd"))
	if value(t, fams, "node_filefd_allocated") != 12736 || value(t, fams, "node_filefd_maximum") != 9223372036854775807 {
		t.Fatalf("filefd: %+v", fams)
	}
	_, err := collector.CollectOnce(t.Context(), newByName(t, fixtureRoots("broken"), testConfig(), "filefd"))
	wantErr(t, err, `testdata/broken/proc/sys/fs/file-nr:1: expected 3 fields (allocated, unused, maximum), got 2 (line: "12736 0")`)
}

func TestKernelHungCollector(t *testing.T) {
	fams := collectOK(t, newByName(t, fixtureRoots("host"), testConfig(), "kernel_hung"))
	f := family(fams, "node_kernel_hung_tasks_total")
	if f == nil || f.Desc.Type != collector.Counter || f.Samples[0].Value != 2 {
		t.Fatalf("kernel_hung: %s", names(fams))
	}
	_, err := collector.CollectOnce(t.Context(), newByName(t, fixtureRoots("variant"), testConfig(), "kernel_hung"))
	wantNoData(t, err)
	_, err = collector.CollectOnce(t.Context(), newByName(t, fixtureRoots("broken"), testConfig(), "kernel_hung"))
	wantErr(t, err, `read hung task count: testdata/broken/proc/sys/kernel/hung_task_detect_count:1: expected an unsigned integer (line: "-1")`)
}

func TestKernelLive(t *testing.T) {
	roots := liveRoots(t, "proc", "sys/fs/file-nr")
	fams := collectOK(t, newByName(t, roots, Config{}, "filefd"))
	if a, m := value(t, fams, "node_filefd_allocated"), value(t, fams, "node_filefd_maximum"); a <= 0 || a > m {
		t.Errorf("filefd allocated %v, maximum %v", a, m)
	}
	if _, err := os.Stat("/proc/sys/kernel/random/entropy_avail"); err == nil {
		fams := collectOK(t, newByName(t, roots, Config{}, "entropy"))
		if v := value(t, fams, "node_entropy_available_bits"); v < 0 || v > 1<<20 {
			t.Errorf("entropy = %v", v)
		}
	}
	if _, err := os.Stat("/proc/sys/kernel/hung_task_detect_count"); err == nil {
		collectOK(t, newByName(t, roots, Config{}, "kernel_hung"))
	}
}

// --- processes ---

func TestParsePIDStat(t *testing.T) {
	const file = "/proc/1577/stat"
	good := "1577 (tmux: server) S 1 1577 1577 0 -1 4194560 2311 0 12 0 11039 4731 0 0 20 0 3 0 88120 11550720 1203"
	tests := []struct {
		name    string
		in      string
		state   byte
		threads uint64
		wantErr string
	}{
		{name: "command with space", in: good + "\n", state: 'S', threads: 3},
		{name: "command with parentheses", in: "9 (a) (b)) Z 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5", state: 'Z', threads: 1},
		{name: "empty", in: "", wantErr: `/proc/1577/stat:1: empty file; expected a process status line (line: "")`},
		{name: "no parenthesis", in: "1 systemd S 0", wantErr: `/proc/1577/stat:1: missing the ')' that ends the command name (line: "1 systemd S 0")`},
		{name: "short", in: "1 (systemd) S 0 1 1", wantErr: `/proc/1577/stat:1: expected at least 18 fields after the command name, got 4 (line: "1 (systemd) S 0 1 1")`},
		{name: "bad state", in: strings.Replace(good, ") S ", ") SS ", 1), wantErr: `/proc/1577/stat:1: state "SS" is not a single letter (line: "` + strings.Replace(good, ") S ", ") SS ", 1) + `")`},
		{name: "bad threads", in: strings.Replace(good, " 20 0 3 0 ", " 20 0 x 0 ", 1), wantErr: `/proc/1577/stat:1: num_threads: "x" is not an unsigned integer (line: "` + strings.Replace(good, " 20 0 3 0 ", " 20 0 x 0 ", 1) + `")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state, threads, _, err := parsePIDStat(file, []byte(tt.in), nil)
			if tt.wantErr != "" {
				wantErr(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if state != tt.state || threads != tt.threads {
				t.Fatalf("got %c %d, want %c %d", state, threads, tt.state, tt.threads)
			}
		})
	}
}

func TestProcessesCollector(t *testing.T) {
	fams := collectOK(t, newByName(t, fixtureRoots("host"), testConfig(), "processes"))
	want := "node_processes_threads(1) node_processes_max_threads(1) node_processes_state(4) node_processes_pids(1) " +
		"node_processes_max_processes(1) node_processes_threads_state(5)"
	if got := names(fams); got != want {
		t.Fatalf("families = %s\nwant       %s", got, want)
	}
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"node_processes_threads", nil, 17},
		{"node_processes_max_threads", nil, 2060214},
		{"node_processes_pids", nil, 10},
		{"node_processes_max_processes", nil, 4194304},
		{"node_processes_state", []string{"state", "S"}, 7},
		{"node_processes_state", []string{"state", "R"}, 1},
		{"node_processes_state", []string{"state", "I"}, 1},
		{"node_processes_state", []string{"state", "Z"}, 1},
		{"node_processes_threads_state", []string{"thread_state", "S"}, 12},
		{"node_processes_threads_state", []string{"thread_state", "R"}, 2},
		{"node_processes_threads_state", []string{"thread_state", "D"}, 1},
		{"node_processes_threads_state", []string{"thread_state", "I"}, 1},
		{"node_processes_threads_state", []string{"thread_state", "Z"}, 1},
	}
	for _, ck := range checks {
		if got := value(t, fams, ck.name, ck.labels...); got != ck.want {
			t.Errorf("%s%v = %v, want %v", ck.name, ck.labels, got, ck.want)
		}
	}
}

func TestProcessesCollectorNoThreadStates(t *testing.T) {
	var reads int
	roots := fixtureRoots("host")
	roots.Trace = func(p string) {
		if strings.Contains(p, "/task") {
			reads++
		}
	}
	cfg := testConfig()
	cfg.ProcessesNoThreadStates = true
	fams := collectOK(t, newByName(t, roots, cfg, "processes"))
	if count(fams, "node_processes_threads_state") != 0 || reads != 0 {
		t.Fatalf("thread states read (%d task reads): %s", reads, names(fams))
	}
}

// TestProcessesCollectorTaskReads: only multi-threaded processes have
// their task directory listed; a single-threaded process's one thread has
// the state of its stat.
func TestProcessesCollectorTaskReads(t *testing.T) {
	var dirs []string
	roots := fixtureRoots("host")
	roots.Trace = func(p string) {
		if d, ok := strings.CutPrefix(p, "dir:"); ok && strings.HasSuffix(d, "/task") {
			dirs = append(dirs, filepath.Base(filepath.Dir(d)))
		}
	}
	fams := collectOK(t, newByName(t, roots, testConfig(), "processes"))
	slices.Sort(dirs)
	if want := []string{"1310", "2519"}; !slices.Equal(dirs, want) {
		t.Errorf("task directories listed for PIDs %v, want %v (the multi-threaded ones)", dirs, want)
	}
	if got := value(t, fams, "node_processes_threads_state", "thread_state", "S"); got != 12 {
		t.Errorf("threads sleeping = %v, want 12", got)
	}
}

func TestProcessesCollectorVanishedProcess(t *testing.T) {
	// proc/4242 has no stat (the process exited) and proc/1, with 4
	// threads, no task directory: both are skipped, as node_exporter does.
	fams := collectOK(t, newByName(t, fixtureRoots("variant"), testConfig(), "processes"))
	if v := value(t, fams, "node_processes_pids"); v != 1 {
		t.Errorf("pids = %v, want 1", v)
	}
	if n := count(fams, "node_processes_threads_state"); n != 0 {
		t.Errorf("thread states = %d, want 0", n)
	}
}

func TestProcessesCollectorErrors(t *testing.T) {
	_, err := collector.CollectOnce(t.Context(), newByName(t, fixtureRoots("broken"), testConfig(), "processes"))
	wantErr(t, err, `testdata/broken/proc/1/stat:1: missing the ')' that ends the command name (line: "1 (systemd S 0 1 1")`)
	_, err = collector.CollectOnce(t.Context(), newByName(t, fixtureRoots("none"), testConfig(), "processes"))
	wantErr(t, err, "list processes: open testdata/none/proc: no such file or directory")
}

func TestProcessesLive(t *testing.T) {
	roots := liveRoots(t, "proc", "self/stat")
	fams := collectOK(t, newByName(t, roots, Config{}, "processes"))
	pids, threads := value(t, fams, "node_processes_pids"), value(t, fams, "node_processes_threads")
	if pids < 1 || threads < pids {
		t.Errorf("pids %v, threads %v", pids, threads)
	}
	if v := value(t, fams, "node_processes_max_processes"); v < pids {
		t.Errorf("pid_max %v < pids %v", v, pids)
	}
	// This test is running: at least one task is R.
	if v := value(t, fams, "node_processes_threads_state", "thread_state", "R"); v < 1 {
		t.Errorf("running threads = %v", v)
	}
	var states float64
	for _, s := range family(fams, "node_processes_state").Samples {
		states += s.Value
	}
	if states != pids {
		t.Errorf("sum of states %v != pids %v", states, pids)
	}
}

// --- benchmarks ---

func BenchmarkCollectUname(b *testing.B) {
	benchCollect(b, newByName(b, benchRoots("proc", "sys/kernel/hostname"), Config{}, "uname"))
}

func BenchmarkCollectOS(b *testing.B) {
	roots := hostfs.DefaultRoots()
	if _, err := os.Stat("/etc/os-release"); err != nil {
		roots = fixtureRoots("host")
	}
	benchCollect(b, newByName(b, roots, Config{}, "os"))
}

func BenchmarkCollectTime(b *testing.B) {
	benchCollect(b, newByName(b, benchRoots("sys", "devices/system/clocksource"), Config{}, "time"))
}

func BenchmarkCollectTimex(b *testing.B) {
	benchCollect(b, newByName(b, hostfs.DefaultRoots(), Config{}, "timex"))
}

func BenchmarkCollectEntropy(b *testing.B) {
	benchCollect(b, newByName(b, benchRoots("proc", "sys/kernel/random/entropy_avail"), Config{}, "entropy"))
}

func BenchmarkCollectFilefd(b *testing.B) {
	benchCollect(b, newByName(b, benchRoots("proc", "sys/fs/file-nr"), Config{}, "filefd"))
}

func BenchmarkCollectKernelHung(b *testing.B) {
	benchCollect(b, newByName(b, benchRoots("proc", "sys/kernel/hung_task_detect_count"), Config{}, "kernel_hung"))
}

func BenchmarkCollectProcesses(b *testing.B) {
	benchCollect(b, newByName(b, benchRoots("proc", "self/stat"), Config{}, "processes"))
}

func BenchmarkCollectProcessesNoThreadStates(b *testing.B) {
	benchCollect(b, newByName(b, benchRoots("proc", "self/stat"), Config{ProcessesNoThreadStates: true}, "processes"))
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
