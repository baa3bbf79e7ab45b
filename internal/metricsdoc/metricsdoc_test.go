package metricsdoc

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMetricsDocUpToDate fails when the committed docs/metrics.md differs
// from what the generator writes from the code now.
func TestMetricsDocUpToDate(t *testing.T) {
	root, err := RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	want, err := Generate(ctx, root)
	if errors.Is(err, ErrNeedsCgo) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, DocPath))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) == string(want) {
		return
	}
	t.Fatalf("%s is out of date with the code; regenerate it with\n\n\t%s\n\nand review the diff. First difference:\n%s",
		DocPath, Command, firstDiff(string(got), string(want)))
}

// firstDiff shows the first line where the committed page (got) and the
// generated one (want) differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n  committed: " + a + "\n  generated: " + b
		}
	}
	return "(none: only the lengths differ)"
}

func TestUnit(t *testing.T) {
	for _, tc := range []struct{ name, help, want string }{
		{"node_cpu_seconds_total", "", "seconds"},
		{"node_disk_read_time_seconds_total", "", "seconds"},
		{"node_boot_time_seconds", "", "seconds (Unix time)"},
		{"node_time_seconds", "", "seconds (Unix time)"},
		{"trainwatch_run_start_time_seconds", "", "seconds (Unix time)"},
		{"trainwatch_collector_last_success_timestamp_seconds", "", "seconds (Unix time)"},
		{"push_failure_time_seconds", "", "seconds (Unix time)"},
		{"node_memory_MemTotal_bytes", "", "bytes"},
		{"node_network_receive_bytes_total", "", "bytes"},
		{"trainwatch_process_read_bytes_per_second", "", "bytes/s"},
		{"trainwatch_run_steps_per_second", "", "per second"},
		{"node_hwmon_temp_celsius", "", "°C"},
		{"node_rapl_package_joules_total", "", "joules"},
		{"node_cpu_frequency_hertz", "", "hertz"},
		{"trainwatch_run_progress_ratio", "", "ratio"},
		{"trainwatch_job_cpu_percent", "", "percent"},
		{"node_entropy_available_bits", "", "bits"},
		{"node_hwmon_fan_rpm", "", "rpm"},
		{"DCGM_FI_DEV_SM_CLOCK", "SM clock frequency (in MHz).", "MHz"},
		{"DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C).", "°C"},
		{"DCGM_FI_DEV_POWER_USAGE", "Power draw (in W).", "watts"},
		{"DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).", "percent"},
		{"DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB).", "MiB"},
		{"DCGM_FI_DEV_PCIE_TX_THROUGHPUT", "PCIe transmit throughput (in KB/s; typed counter).", "KB/s"},
		{"DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", "NVLink throughput (in MB/s, 1 MB = 2^20 bytes).", "MB/s"},
		{"DCGM_FI_PROF_SM_ACTIVE", "The ratio of cycles an SM has at least 1 warp assigned.", "ratio"},
		{"DCGM_FI_PROF_PCIE_TX_BYTES", "The rate of data transmitted, in bytes per second.", "bytes/s"},
		{"node_thermal_zone_temp", "Zone temperature in Celsius", "°C"},
		{"node_context_switches_total", "Total number of context switches.", ""},
		{"node_uname_info", "Labeled system information.", ""},
		{"node_load1", "1m load average.", ""},
	} {
		if got := Unit(tc.name, tc.help); got != tc.want {
			t.Errorf("Unit(%q, %q) = %q, want %q", tc.name, tc.help, got, tc.want)
		}
	}
}

func TestCompat(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"node_load1", "node_exporter"},
		{"node_scrape_collector_success", "node_exporter"},
		{"DCGM_FI_DEV_GPU_UTIL", "dcgm-exporter DCGM_FI_DEV_GPU_UTIL"},
		{"namedprocess_namegroup_num_procs", "process-exporter"},
		{"process_cpu_seconds_total", "client_golang (every Go exporter)"},
		{"go_goroutines", "client_golang (every Go exporter)"},
		{"push_time_seconds", "Pushgateway"},
		{"trainwatch_gpu_up", "trainwatch only"},
		{"trainwatch_process_cpu_percent", "trainwatch only"},
	} {
		if got := Compat(tc.name); got != tc.want {
			t.Errorf("Compat(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		glob, name string
		want       bool
	}{
		{"node_memory_*", "node_memory_MemTotal_bytes", true},
		{"node_memory_*", "node_memory_", true},
		{"node_memory_*", "node_memoryX", false},
		{"node_rapl_*_joules_total", "node_rapl_package_joules_total", true},
		{"node_rapl_*_joules_total", "node_rapl_package_joules", false},
		{"node_rapl_*_joules_total", "node_rapl_joules_total", false},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "acb", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
	} {
		if got := globMatch(tc.glob, tc.name); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.glob, tc.name, got, tc.want)
		}
	}
}

// skeleton is a page with every generated region empty.
func skeleton() string {
	var b strings.Builder
	b.WriteString("# Title\n\nHand-written text.\n\n")
	for _, r := range regions {
		b.WriteString(beginMarker(r) + "\nstale content\n" + endMarker(r) + "\n\nMore text.\n\n")
	}
	return b.String()
}

func TestRenderParseRoundTrip(t *testing.T) {
	ref := &Reference{
		// In the page's order: by section, then as given.
		Metrics: []Metric{
			{Name: "node_load1", Type: "gauge", Source: "loadavg", Compat: "node_exporter", Help: "1m load average."},
			{Name: "node_timex_offset_overflow_total", Type: "counter", Source: "timex", Compat: "node_exporter",
				Help: "Readings with |offset| > 4s."},
			{Name: "DCGM_FI_DEV_GPU_UTIL", Type: "gauge", Unit: "percent", Labels: []string{"gpu", "UUID"},
				OptionalLabels: []string{"GPU_I_PROFILE", "GPU_I_ID"}, OptionalWhen: "with MIG", Source: srcNVML,
				Compat: "dcgm-exporter DCGM_FI_DEV_GPU_UTIL", Help: "GPU utilization (in %)."},
		},
		Patterns:     []Pattern{{Glob: "node_memory_*", Type: "gauge", Source: "meminfo", What: "one per field"}},
		Conditionals: []Conditional{{Name: "DCGM_FI_DEV_GPU_UTIL", Source: srcNVML, When: "a GPU | is there"}},
	}
	doc, err := Render(skeleton(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(doc, "stale content") {
		t.Error("a region kept its old content")
	}
	if strings.Count(doc, "More text.") != len(regions) || !strings.HasPrefix(doc, "# Title\n\nHand-written text.\n\n") {
		t.Errorf("hand-written text changed:\n%s", doc)
	}
	again, err := Render(doc, ref)
	if err != nil || again != doc {
		t.Fatalf("rendering twice changes the page (err %v)", err)
	}
	back, err := ParseDoc(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, ref) {
		t.Errorf("ParseDoc(Render(ref)) =\n%+v\nwant\n%+v", back, ref)
	}
}

func TestRenderRegionErrors(t *testing.T) {
	ref := &Reference{Metrics: []Metric{{Name: "x", Type: "gauge", Source: "loadavg"}}}
	sk := skeleton()
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"missing begin", strings.Replace(sk, beginMarker(regionMetrics), "", 1), "must hold the line \"" + beginMarker(regionMetrics) + "\" once, not 0 times"},
		{"twice", sk + beginMarker(regionPatterns) + "\n", "must hold the line \"" + beginMarker(regionPatterns) + "\" once, not 2 times"},
		{"missing end", strings.Replace(sk, endMarker(regionConditional), "", 1), "must hold the line \"" + endMarker(regionConditional) + "\" once, not 0 times"},
		{"reversed", strings.Replace(strings.Replace(sk, endMarker(regionOverview), "@@", 1), beginMarker(regionOverview), endMarker(regionOverview), 1), "comes before"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Replace(tc.doc, "@@", beginMarker(regionOverview), 1)
			_, err := Render(doc, ref)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestApplyOptionalLabels(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      Metric
		want    Metric
		wantErr string
	}{
		{
			name: "MIG labels of a DCGM family become optional",
			in:   Metric{Name: "DCGM_FI_DEV_FB_USED", Source: srcNVML, Labels: []string{"gpu", "GPU_I_PROFILE", "GPU_I_ID", "Hostname"}},
			want: Metric{Name: "DCGM_FI_DEV_FB_USED", Source: srcNVML, Labels: []string{"gpu", "Hostname"},
				OptionalLabels: []string{"GPU_I_PROFILE", "GPU_I_ID"}, OptionalWhen: "with MIG"},
		},
		{
			name: "MIG variant seen second",
			in: Metric{Name: "DCGM_FI_DEV_FB_USED", Source: srcNVML, Labels: []string{"gpu", "Hostname"},
				OptionalLabels: []string{"GPU_I_PROFILE", "GPU_I_ID"}},
			want: Metric{Name: "DCGM_FI_DEV_FB_USED", Source: srcNVML, Labels: []string{"gpu", "Hostname"},
				OptionalLabels: []string{"GPU_I_PROFILE", "GPU_I_ID"}, OptionalWhen: "with MIG"},
		},
		{
			name: "plain family unchanged",
			in:   Metric{Name: "node_load1", Source: "loadavg"},
			want: Metric{Name: "node_load1", Source: "loadavg"},
		},
		{
			name:    "unexplained variant",
			in:      Metric{Name: "trainwatch_run_step", Source: srcRuns, Labels: []string{"run"}, OptionalLabels: []string{"host"}},
			wantErr: "trainwatch_run_step (runs) is emitted with labels [run] and with [host]; explain the variant in applyOptionalLabels",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := []Metric{tc.in}
			err := applyOptionalLabels(ms)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ms[0], tc.want) {
				t.Errorf("got %+v, want %+v", ms[0], tc.want)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	ms := merge([]Metric{
		{Name: "trainwatch_gpu_up", Source: srcAMD, Labels: []string{"gpu"}},
		{Name: "node_load1", Source: "loadavg"},
		{Name: "trainwatch_gpu_up", Source: srcNVML, Labels: []string{"gpu"}},
		{Name: "DCGM_FI_DEV_FB_USED", Source: srcNVML, Labels: []string{"gpu"}},
		{Name: "DCGM_FI_DEV_FB_USED", Source: srcNVML, Labels: []string{"gpu", "GPU_I_ID"}},
	})
	var got []string
	for _, m := range ms {
		got = append(got, m.Source+" "+m.Name+" "+strings.Join(m.OptionalLabels, ","))
	}
	want := []string{"loadavg node_load1 ", "gpu (NVML) DCGM_FI_DEV_FB_USED GPU_I_ID", "gpu (NVML) trainwatch_gpu_up ", "amdgpu trainwatch_gpu_up "}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("merge = %q, want %q", got, want)
	}
}

func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, DocPath)); err != nil {
		t.Errorf("RepoRoot = %s, which has no %s: %v", root, DocPath, err)
	}
	if _, err := RepoRoot(t.TempDir()); err == nil {
		t.Error("RepoRoot of a directory outside the repository succeeded")
	}
}

func TestCheck(t *testing.T) {
	ref := &Reference{
		Metrics: []Metric{
			{Name: "node_load1", Type: "gauge", Source: "loadavg"},
			{Name: "DCGM_FI_DEV_FB_USED", Type: "gauge", Labels: []string{"gpu", "UUID"},
				OptionalLabels: []string{"GPU_I_PROFILE", "GPU_I_ID"}, OptionalWhen: "with MIG", Source: srcNVML},
			{Name: "trainwatch_gpu_up", Type: "gauge", Labels: []string{"gpu"}, Source: srcNVML},
			{Name: "trainwatch_gpu_up", Type: "gauge", Labels: []string{"gpu", "UUID"}, Source: srcAMD},
		},
		Patterns: []Pattern{{Glob: "node_memory_*", Type: "gauge", Source: "meminfo"}},
	}
	for _, tc := range []struct {
		name, typ string
		labels    []string
		wantErr   string
	}{
		{"node_load1", "gauge", nil, ""},
		{"DCGM_FI_DEV_FB_USED", "gauge", []string{"UUID", "gpu"}, ""},
		{"DCGM_FI_DEV_FB_USED", "gauge", []string{"gpu", "UUID", "GPU_I_ID", "GPU_I_PROFILE"}, ""},
		{"trainwatch_gpu_up", "gauge", []string{"gpu", "UUID"}, ""},
		{"node_memory_Balloon_bytes", "gauge", nil, ""},
		{"node_load1", "untyped", nil, "node_load1 is a untyped, but the page says a gauge (source loadavg)"},
		{"DCGM_FI_DEV_FB_USED", "gauge", []string{"gpu"}, "DCGM_FI_DEV_FB_USED has labels [gpu], but the page says gpu, UUID (with MIG also GPU_I_PROFILE, GPU_I_ID) (source gpu (NVML))"},
		{"DCGM_FI_DEV_FB_USED", "gauge", []string{"gpu", "UUID", "extra"}, "DCGM_FI_DEV_FB_USED has labels [gpu UUID extra], but the page says gpu, UUID (with MIG also GPU_I_PROFILE, GPU_I_ID) (source gpu (NVML))"},
		{"node_memory_Balloon_bytes", "gauge", []string{"numa"}, "node_memory_Balloon_bytes is a gauge with labels [numa], but the pattern node_memory_* that documents it says a gauge with labels []"},
		{"node_new_thing", "gauge", []string{"a"}, "node_new_thing (gauge, labels [a]) is not documented"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ref.Check(tc.name, tc.typ, tc.labels)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("err = %v", err)
			case tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr):
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
