package cpu

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

func TestParseProcStat(t *testing.T) {
	const file = "/proc/stat"
	tests := []struct {
		name    string
		in      string
		want    procStat
		wantErr string
	}{
		{
			name: "modern kernel",
			in: "cpu  10 2 3 400 5 6 7 8 9 1\n" +
				"cpu0 5 1 2 200 3 4 5 6 7 1\n" +
				"cpu1 5 1 1 200 2 2 2 2 2 0\n" +
				"intr 123456 0 1 2 3\nctxt 789\nbtime 1767225600\nprocesses 4242\n" +
				"procs_running 3\nprocs_blocked 1\nsoftirq 1 2 3\n",
			want: procStat{
				cpus: []cpuTimes{
					{id: 0, t: [numCols]uint64{5, 1, 2, 200, 3, 4, 5, 6, 7, 1}},
					{id: 1, t: [numCols]uint64{5, 1, 1, 200, 2, 2, 2, 2, 2, 0}},
				},
				intr: 123456, ctxt: 789, btime: 1767225600, forks: 4242, running: 3, blocked: 1,
				hasIntr: true, hasCtxt: true, hasBtime: true, hasForks: true, hasRun: true, hasBl: true,
			},
		},
		{
			name: "old kernel without steal and guest, CPU numbers with gaps",
			in:   "cpu 1 2 3 4 5 6 7\ncpu0 1 2 3 4 5 6 7\ncpu2 8 9 10 11\nctxt 5\n",
			want: procStat{
				cpus: []cpuTimes{
					{id: 0, t: [numCols]uint64{1, 2, 3, 4, 5, 6, 7}},
					{id: 2, t: [numCols]uint64{8, 9, 10, 11}},
				},
				ctxt: 5, hasCtxt: true,
			},
		},
		{
			name: "future columns are ignored",
			in:   "cpu0 1 2 3 4 5 6 7 8 9 10 11 12\n",
			want: procStat{cpus: []cpuTimes{{id: 0, t: [numCols]uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}}},
		},
		{
			name: "empty file",
			in:   "",
			want: procStat{cpus: []cpuTimes{}},
		},
		{
			name:    "bad CPU name",
			in:      "cpu0 1 2 3 4\ncpux 1 2 3 4\n",
			wantErr: `/proc/stat:2: "cpux" is not a CPU name (expected cpuN) (line: "cpux 1 2 3 4")`,
		},
		{
			name:    "too few columns",
			in:      "cpu0 1 2 3\n",
			wantErr: `/proc/stat:1: cpu0: expected at least 4 time columns (user nice system idle), got 3 (line: "cpu0 1 2 3")`,
		},
		{
			name:    "non-numeric column",
			in:      "cpu0 1 2 -3 4\n",
			wantErr: `/proc/stat:1: cpu0 column 3: "-3" is not an unsigned integer (line: "cpu0 1 2 -3 4")`,
		},
		{
			name:    "intr without value",
			in:      "cpu0 1 2 3 4\nintr\n",
			wantErr: `/proc/stat:2: intr: missing value (line: "intr")`,
		},
		{
			name:    "ctxt not a number",
			in:      "ctxt 12x\n",
			wantErr: `/proc/stat:1: ctxt: "12x" is not an unsigned integer (line: "ctxt 12x")`,
		},
		{
			name:    "btime overflow",
			in:      "btime 99999999999999999999\n",
			wantErr: `/proc/stat:1: btime: "99999999999999999999" is not an unsigned integer (line: "btime 99999999999999999999")`,
		},
		{
			name:    "procs_blocked garbage",
			in:      "procs_blocked many\n",
			wantErr: `/proc/stat:1: procs_blocked: "many" is not an unsigned integer (line: "procs_blocked many")`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got procStat
			err := parseProcStat(file, []byte(tt.in), &got)
			if tt.wantErr != "" {
				wantErr(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.cpus == nil {
				got.cpus = []cpuTimes{}
			}
			got.fields = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseCPUList(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr string
	}{
		{in: "", want: nil},
		{in: "\n", want: nil},
		{in: "3\n", want: []int{3}},
		{in: "0-2,8,10-11\n", want: []int{0, 1, 2, 8, 10, 11}},
		{in: "1-x\n", wantErr: `isolated:1: "1-x" is not a CPU number or range (line: "1-x")`},
		{in: "5-2\n", wantErr: `isolated:1: "5-2" is not a CPU number or range (line: "5-2")`},
	}
	for _, tt := range tests {
		got, err := parseCPUList("isolated", []byte(tt.in))
		if tt.wantErr != "" {
			wantErr(t, err, tt.wantErr)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseCPUList(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestCPUSeriesUpdate(t *testing.T) {
	var s cpuSeries
	step := func(user, idle uint64) [2]uint64 {
		t := [numCols]uint64{colUser: user, colIdle: idle}
		got := s.update(&t)
		return [2]uint64{got[colUser], got[colIdle]}
	}
	if got := step(100, 1000); got != [2]uint64{100, 1000} {
		t.Fatalf("first = %v", got)
	}
	// A counter going back a little keeps the last value.
	if got := step(90, 1100); got != [2]uint64{100, 1100} {
		t.Fatalf("user went back: %v", got)
	}
	if got := step(120, 1050); got != [2]uint64{120, 1100} {
		t.Fatalf("idle went back 0.5s: %v", got)
	}
	// Idle going back 3 s or more is a hotplug: start over.
	if got := step(5, 800); got != [2]uint64{5, 800} {
		t.Fatalf("after hotplug: %v", got)
	}
}

func TestCPUCollector(t *testing.T) {
	c := newByName(t, fixtureRoots("host"), Config{}, "cpu")
	fams := collectOK(t, c)
	if got, want := names(fams), "node_cpu_seconds_total(32) node_cpu_guest_seconds_total(8) node_cpu_online(4)"; got != want {
		t.Fatalf("families = %s, want %s", got, want)
	}
	checks := []struct {
		cpu, mode string
		want      float64
	}{
		{"0", "user", 3610.47}, {"0", "nice", 8.01}, {"0", "system", 1084.55}, {"0", "idle", 85119.5},
		{"0", "iowait", 122.07}, {"0", "irq", 0}, {"0", "softirq", 143.25}, {"0", "steal", 0},
		{"3", "idle", 85402.1},
	}
	for _, ck := range checks {
		if got := value(t, fams, "node_cpu_seconds_total", "cpu", ck.cpu, "mode", ck.mode); got != ck.want {
			t.Errorf("cpu %s %s = %v, want %v", ck.cpu, ck.mode, got, ck.want)
		}
	}
	if got := value(t, fams, "node_cpu_guest_seconds_total", "cpu", "0", "mode", "user"); got != 15.2 {
		t.Errorf("guest user = %v, want 15.2", got)
	}
	if got := value(t, fams, "node_cpu_guest_seconds_total", "cpu", "0", "mode", "nice"); got != 0 {
		t.Errorf("guest nice = %v, want 0", got)
	}
	for _, cpu := range []string{"0", "1", "2", "3"} {
		if got := value(t, fams, "node_cpu_online", "cpu", cpu); got != 1 {
			t.Errorf("online cpu %s = %v", cpu, got)
		}
	}
	f := family(fams, "node_cpu_seconds_total")
	if f.Desc.Type.String() != "counter" || f.Desc.Help != "Seconds the CPUs spent in each mode." {
		t.Errorf("desc = %+v", f.Desc)
	}

	// Label slices are made once and handed out again on the next tick.
	again := collectOK(t, c)
	if &family(again, "node_cpu_seconds_total").Samples[0].LabelValues[0] != &f.Samples[0].LabelValues[0] {
		t.Error("label values were rebuilt on the second tick")
	}
}

func TestCPUCollectorNoGuest(t *testing.T) {
	fams := collectOK(t, newByName(t, fixtureRoots("host"), Config{NoGuest: true}, "cpu"))
	if n := count(fams, "node_cpu_guest_seconds_total"); n != 0 {
		t.Fatalf("guest series = %d, want 0", n)
	}
}

func TestCPUCollectorVariant(t *testing.T) {
	// An old kernel (no steal or guest columns), cpu0 without an online
	// file (so no node_cpu_online at all, as node_exporter), CPU 1 isolated.
	fams := collectOK(t, newByName(t, fixtureRoots("variant"), Config{}, "cpu"))
	if got, want := names(fams), "node_cpu_seconds_total(16) node_cpu_guest_seconds_total(4) node_cpu_isolated(1)"; got != want {
		t.Fatalf("families = %s, want %s", got, want)
	}
	if got := value(t, fams, "node_cpu_seconds_total", "cpu", "1", "mode", "steal"); got != 0 {
		t.Errorf("steal = %v", got)
	}
	if got := value(t, fams, "node_cpu_seconds_total", "cpu", "1", "mode", "softirq"); got != 0.17 {
		t.Errorf("softirq = %v", got)
	}
	if got := value(t, fams, "node_cpu_isolated", "cpu", "1"); got != 1 {
		t.Errorf("isolated cpu 1 = %v", got)
	}
}

func TestCPUCollectorOnlineWithOfflineCPU(t *testing.T) {
	// cpu0 has an online file here; cpu2 is offline.
	fams := collectOK(t, newByName(t, fixtureRoots("offline"), Config{}, "cpu"))
	want := map[string]float64{"0": 1, "1": 1, "2": 0, "3": 1}
	for cpu, v := range want {
		if got := value(t, fams, "node_cpu_online", "cpu", cpu); got != v {
			t.Errorf("online cpu %s = %v, want %v", cpu, got, v)
		}
	}
}

func TestCPUCollectorErrors(t *testing.T) {
	_, err := collector.CollectOnce(t.Context(), newByName(t, fixtureRoots("broken"), Config{}, "cpu"))
	wantErr(t, err, `testdata/broken/proc/stat:2: cpu0 column 2: "x" is not an unsigned integer (line: "cpu0 1 x 3 4")`)

	_, err = collector.CollectOnce(t.Context(), newByName(t, fixtureRoots("none"), Config{}, "cpu"))
	wantErr(t, err, "read kernel statistics: open testdata/none/proc/stat: no such file or directory")
}

func TestStatReadIsShared(t *testing.T) {
	var reads []string
	roots := fixtureRoots("host")
	roots.Trace = func(p string) {
		if p == roots.ProcPath("stat") {
			reads = append(reads, p)
		}
	}
	clock := &stepClock{t: time.Unix(1767225600, 0)}
	cfg := Config{Now: clock.now}
	cs, err := New(roots, cfg)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]int{}
	for i, c := range cs {
		byName[c.Name()] = i
	}
	cpu, stat := cs[byName["cpu"]], cs[byName["stat"]]
	collectOK(t, cpu)
	clock.t = clock.t.Add(10 * time.Millisecond)
	fams := collectOK(t, stat)
	if len(reads) != 1 {
		t.Fatalf("/proc/stat read %d times in one tick, want 1", len(reads))
	}
	if got := value(t, fams, "node_context_switches_total"); got != 2345678901 {
		t.Fatalf("ctxt = %v", got)
	}
	clock.t = clock.t.Add(time.Second)
	collectOK(t, stat)
	collectOK(t, cpu)
	if len(reads) != 2 {
		t.Fatalf("/proc/stat read %d times in two ticks, want 2", len(reads))
	}
	// A clock going backwards never serves stale data.
	clock.t = clock.t.Add(-time.Hour)
	collectOK(t, cpu)
	if len(reads) != 3 {
		t.Fatalf("/proc/stat read %d times after the clock went back, want 3", len(reads))
	}
}

func TestCPULive(t *testing.T) {
	roots := liveRoots(t, "proc", "stat")
	c := newByName(t, roots, Config{}, "cpu")
	first := collectOK(t, c)
	n := count(first, "node_cpu_seconds_total")
	if n == 0 || n%8 != 0 {
		t.Fatalf("node_cpu_seconds_total has %d series, want 8 per CPU", n)
	}
	if cpus := n / 8; cpus > runtime.NumCPU()*4 && cpus > 4096 {
		t.Fatalf("%d CPUs is not plausible", cpus)
	}
	time.Sleep(20 * time.Millisecond)
	second := collectOK(t, c)
	f1, f2 := family(first, "node_cpu_seconds_total"), family(second, "node_cpu_seconds_total")
	for i := range f1.Samples {
		if f2.Samples[i].Value < f1.Samples[i].Value {
			t.Errorf("%v went back: %v -> %v", f1.Samples[i].LabelValues, f1.Samples[i].Value, f2.Samples[i].Value)
		}
	}
	if v := value(t, second, "node_cpu_seconds_total", "cpu", "0", "mode", "idle"); v <= 0 {
		t.Errorf("cpu0 idle = %v", v)
	}
}

func TestStatLive(t *testing.T) {
	roots := liveRoots(t, "proc", "stat")
	fams := collectOK(t, newByName(t, roots, Config{}, "stat"))
	bt := value(t, fams, "node_boot_time_seconds")
	if now := float64(time.Now().Unix()); bt < 946684800 || bt > now {
		t.Errorf("boot time %v is not between 2000 and now", bt)
	}
	if v := value(t, fams, "node_procs_running"); v < 1 {
		t.Errorf("procs_running = %v, want >= 1 (this test runs)", v)
	}
	for _, n := range []string{"node_context_switches_total", "node_forks_total", "node_intr_total"} {
		if v := value(t, fams, n); v <= 0 {
			t.Errorf("%s = %v", n, v)
		}
	}
}

// tickClock advances one second per call, so benchmarks never reuse a
// shared /proc/stat read.
func tickClock() func() time.Time {
	t := time.Unix(0, 0)
	return func() time.Time { t = t.Add(time.Second); return t }
}

func BenchmarkCollectCPU(b *testing.B) {
	benchCollect(b, newByName(b, benchRoots("proc", "stat"), Config{Now: tickClock()}, "cpu"))
}

func BenchmarkCollectStat(b *testing.B) {
	benchCollect(b, newByName(b, benchRoots("proc", "stat"), Config{Now: tickClock()}, "stat"))
}

func BenchmarkParseProcStat(b *testing.B) {
	roots := benchRoots("proc", "stat")
	data, err := hostfs.ReadFile(roots.ProcPath("stat"), nil)
	if err != nil {
		b.Fatal(err)
	}
	var s procStat
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := parseProcStat("stat", data, &s); err != nil {
			b.Fatal(err)
		}
	}
}

func TestCPUListerListsOnlyWhenPresentChanges(t *testing.T) {
	src := fixtureRoots("host")
	dir := t.TempDir()
	roots := hostfs.Roots{Proc: src.Proc, Sys: dir}
	cpuDir := filepath.Join(dir, "devices", "system", "cpu")
	for _, d := range []string{"cpu0", "cpu1", "cpufreq"} {
		if err := os.MkdirAll(filepath.Join(cpuDir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(cpuDir, "present"), "0-1\n")
	lists := 0
	roots.Trace = func(p string) {
		if strings.HasPrefix(p, "dir:") {
			lists++
		}
	}
	l := newCPULister(roots)
	for i := 0; i < 3; i++ {
		got, ok, err := l.list()
		if err != nil || !ok || !reflect.DeepEqual(got, []int{0, 1}) {
			t.Fatalf("list = %v %v %v", got, ok, err)
		}
	}
	if lists != 1 {
		t.Fatalf("listed %d times with an unchanged present file, want 1", lists)
	}
	// CPU 2 is hot-added.
	if err := os.Mkdir(filepath.Join(cpuDir, "cpu2"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(cpuDir, "present"), "0-2\n")
	got, _, _ := l.list()
	if !reflect.DeepEqual(got, []int{0, 1, 2}) || lists != 2 {
		t.Fatalf("after hot-add: %v, %d listings", got, lists)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
