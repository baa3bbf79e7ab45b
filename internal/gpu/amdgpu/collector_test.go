package amdgpu

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/testenv"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/collector/collectortest"
	"github.com/trainwatch/trainwatch/internal/exposition"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// fixture unpacks testdata/fixtures.tar and returns the roots of one of
// its machines ("mi300x" or "radeon"); the tree is the test's to change.
func fixture(t testing.TB, machine string) hostfs.Roots {
	t.Helper()
	root := filepath.Join(collectortest.ExtractTar(t, filepath.Join("testdata", "fixtures.tar")), machine)
	return hostfs.Roots{Sys: filepath.Join(root, "sys"), Proc: filepath.Join(root, "proc"), RootFS: filepath.Join(root, "rootfs")}
}

// clock is a time the test moves by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTest(t testing.TB, roots hostfs.Roots, cfg Config) (*amdCollector, *clock) {
	t.Helper()
	if cfg.Hostname == "" {
		cfg.Hostname = "node-a"
	}
	col, err := New(roots, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := col.(*amdCollector)
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	c.now = clk.now
	return c, clk
}

// gpu returns the label pairs of a fixture GPU's series, plus extra pairs.
func gpu(card string, extra ...string) []string {
	var l []string
	switch card {
	case "card1":
		l = []string{"gpu", "1", "UUID", "5d3a1f0e6c2b4a97", "pci_bus_id", "0000:05:00.0", "device", "card1", "modelName", "AMD Instinct MI300X OAM"}
	case "card2":
		l = []string{"gpu", "2", "UUID", "8c1e04b27f3a9d65", "pci_bus_id", "0000:15:00.0", "device", "card2", "modelName", "AMD Instinct MI300X OAM"}
	case "radeon":
		l = []string{"gpu", "0", "UUID", "0000:03:00.0", "pci_bus_id", "0000:03:00.0", "device", "card0", "modelName", "AMD GPU 1002:744c"}
	}
	return append(append(l, "Hostname", "node-a"), extra...)
}

// proc returns the label pairs of a per-process series.
func proc(gpu, uuid, pid, command, user, container, pod, namespace, job string) []string {
	return []string{"gpu", gpu, "UUID", uuid, "pid", pid, "command", command, "user", user,
		"container", container, "pod", pod, "namespace", namespace, "slurm_job", job}
}

var (
	pod4242card1 = proc("1", "5d3a1f0e6c2b4a97", "4242", "pt_main_thread", "alice", "3f9d2c1b8a7e",
		"0f3c6a2e-5b1d-4c7e-9a8b-2d4e6f8a0b1c", "ml-research", "")
	pod4242card2 = proc("2", "8c1e04b27f3a9d65", "4242", "pt_main_thread", "alice", "3f9d2c1b8a7e",
		"0f3c6a2e-5b1d-4c7e-9a8b-2d4e6f8a0b1c", "ml-research", "")
	vllm6060  = proc("1", "5d3a1f0e6c2b4a97", "6060", "vllm", "2000", "9ec39b91f3d7", "", "", "")
	slurm5151 = proc("2", "8c1e04b27f3a9d65", "5151", "python", "bob", "", "", "", "734211")
)

const (
	gib = 1 << 30
	kib = 1 << 10
)

func TestCollectMI300X(t *testing.T) {
	c, _ := newTest(t, fixture(t, "mi300x"), Config{})
	fams := collectortest.CollectOK(t, c)
	v := func(name string, labels ...string) float64 { return collectortest.Value(t, fams, name, labels...) }

	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"trainwatch_gpu_up", gpu("card1"), 1},
		{"trainwatch_gpu_up", gpu("card2"), 1},
		{"trainwatch_gpu_utilization_percent", gpu("card1"), 87},
		{"trainwatch_gpu_memory_utilization_percent", gpu("card1"), 34},
		{"trainwatch_gpu_memory_used_bytes", gpu("card1"), 150323855360},
		{"trainwatch_gpu_memory_total_bytes", gpu("card1"), 206158430208},
		{"trainwatch_amdgpu_gtt_used_bytes", gpu("card1"), 39321600},
		{"trainwatch_amdgpu_gtt_total_bytes", gpu("card1"), 811748569088},
		{"trainwatch_gpu_temperature_celsius", gpu("card1", "sensor", "junction"), 52},
		{"trainwatch_gpu_temperature_celsius", gpu("card1", "sensor", "mem"), 45},
		{"trainwatch_gpu_power_watts", gpu("card1"), 612},
		{"trainwatch_gpu_power_limit_watts", gpu("card1"), 750},
		{"trainwatch_gpu_clock_hertz", gpu("card1", "clock", "sm"), 2.1e9},
		{"trainwatch_gpu_clock_hertz", gpu("card1", "clock", "memory"), 1.3e9},
		{"trainwatch_gpu_pcie_link_generation", gpu("card1", "which", "current"), 5},
		{"trainwatch_gpu_pcie_link_generation", gpu("card1", "which", "max"), 5},
		{"trainwatch_gpu_pcie_link_width", gpu("card1", "which", "current"), 16},
		{"trainwatch_gpu_pcie_link_generation", gpu("card2", "which", "current"), 4},
		{"trainwatch_gpu_pcie_link_width", gpu("card2", "which", "current"), 8},
		{"trainwatch_gpu_pcie_link_width", gpu("card2", "which", "max"), 16},
		{"trainwatch_gpu_utilization_percent", gpu("card2"), 0},
		{"trainwatch_gpu_power_watts", gpu("card2"), 141},
		{"trainwatch_gpu_info", gpu("card1", "vendor", "amd", "model", "AMD Instinct MI300X OAM", "driver", "amdgpu",
			"driver_version", "6.8.5", "vbios_version", "113-M3000100-102", "serial", "692251001124", "pci_id", "1002:74a1"), 1},
		// The dup'd fd and the forked worker's inherited fd are one client.
		{"trainwatch_gpu_process_memory_bytes", pod4242card1, 40 * gib},
		{"trainwatch_gpu_process_memory_bytes", pod4242card2, 1 * gib},
		{"trainwatch_gpu_process_memory_bytes", vllm6060, 100 * gib},
		{"trainwatch_gpu_process_memory_bytes", slurm5151, (83886080 + 1048576) * kib},
	} {
		if got := v(tt.name, tt.labels...); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	for name, want := range map[string]int{
		"trainwatch_gpu_up":                          2, // card0 is the BMC's ASPEED VGA
		"trainwatch_gpu_temperature_celsius":         4, // MI300X has no edge sensor
		"trainwatch_gpu_fan_rpm":                     0, // passively cooled
		"trainwatch_gpu_process_memory_bytes":        4, // not amd-smi (holds nothing), not the broken fdinfo, not Xorg on ast
		"trainwatch_gpu_process_utilization_percent": 0, // needs two scans
	} {
		if got := collectortest.Count(fams, name); got != want {
			t.Errorf("%s: %d samples, want %d", name, got, want)
		}
	}
	// The worker (4300) does not get the client it inherited.
	for i := range collectortest.Family(fams, "trainwatch_gpu_process_memory_bytes").Samples {
		if pid := collectortest.Family(fams, "trainwatch_gpu_process_memory_bytes").Label(i, "pid"); pid == "4300" {
			t.Error("the forked worker is counted")
		}
	}
	st := c.procs.stats
	if st.clients != 6 || st.errs != 1 {
		t.Errorf("scan stats %+v, want 6 clients (17, 18, 31, 32, 40, 50) and 1 error", st)
	}
	wantErr := `/mi300x/proc/9000/fdinfo/3:8: drm-memory-vram "lots KiB" is not a size ("<n> KiB", "<n> MiB" or bytes) (line: "drm-memory-vram:\tlots KiB")`
	if st.lastErr == nil || !strings.HasSuffix(st.lastErr.Error(), wantErr) {
		t.Errorf("last scan error %v, want one ending in %s", st.lastErr, wantErr)
	}
	checkGolden(t, "mi300x", c)
}

func TestProcessUtilization(t *testing.T) {
	roots := fixture(t, "mi300x")
	c, clk := newTest(t, roots, Config{})
	collectortest.CollectOK(t, c)

	fdinfo := func(pid, fd string, client int, pdev string, vramKiB int, gfx, compute int64) {
		t.Helper()
		body := "pos:\t0\ndrm-driver:\tamdgpu\ndrm-client-id:\t" + itoa(client) + "\ndrm-pdev:\t" + pdev +
			"\ndrm-memory-vram:\t" + itoa(vramKiB) + " KiB\ndrm-engine-gfx:\t" + itoa64(gfx) + " ns\ndrm-engine-compute:\t" + itoa64(compute) + " ns\n"
		if err := os.WriteFile(filepath.Join(roots.Proc, pid, "fdinfo", fd), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// 5 s later: client 17 ran 2.5 s of compute (50 %), client 18 0.5 s of
	// gfx (10 %), vLLM's client 40 nothing (0 %), and client 17 grew.
	for _, fd := range []string{"4", "5"} {
		fdinfo("4242", fd, 17, "0000:05:00.0", 50*1024*1024, 0, 3500000000)
	}
	fdinfo("4300", "4", 17, "0000:05:00.0", 50*1024*1024, 0, 3500000000)
	fdinfo("4242", "6", 18, "0000:15:00.0", 1024*1024, 2500000000, 0)

	// A tick before the interval: the last scan is served.
	clk.advance(time.Second)
	fams := collectortest.CollectOK(t, c)
	if got := collectortest.Value(t, fams, "trainwatch_gpu_process_memory_bytes", pod4242card1...); got != 40*gib {
		t.Errorf("between scans: memory %v, want the last scan's %v", got, 40*gib)
	}

	clk.advance(4 * time.Second)
	fams = collectortest.CollectOK(t, c)
	for _, tt := range []struct {
		labels []string
		want   float64
	}{
		{pod4242card1, 50},
		{pod4242card2, 10},
		{vllm6060, 0},
		{slurm5151, 0},
	} {
		if got := collectortest.Value(t, fams, "trainwatch_gpu_process_utilization_percent", tt.labels...); got != tt.want {
			t.Errorf("utilization %v = %v, want %v", tt.labels[5], got, tt.want)
		}
	}
	if got := collectortest.Value(t, fams, "trainwatch_gpu_process_memory_bytes", pod4242card1...); got != 50*gib {
		t.Errorf("memory = %v, want %v", got, 50*gib)
	}

	// Counters that go backwards (the driver was reloaded) give no value.
	fdinfo("4242", "6", 18, "0000:15:00.0", 1024*1024, 100, 0)
	clk.advance(5 * time.Second)
	fams = collectortest.CollectOK(t, c)
	f := collectortest.Family(fams, "trainwatch_gpu_process_utilization_percent")
	for i := range f.Samples {
		if f.Label(i, "gpu") == "2" && f.Label(i, "pid") == "4242" {
			t.Errorf("utilization after a counter reset: %v", f.Samples[i].Value)
		}
	}
}

func itoa(n int) string     { return strconv.Itoa(n) }
func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

func TestCollectRadeon(t *testing.T) {
	c, _ := newTest(t, fixture(t, "radeon"), Config{})
	fams := collectortest.CollectOK(t, c)
	v := func(name string, labels ...string) float64 { return collectortest.Value(t, fams, name, labels...) }
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"trainwatch_gpu_utilization_percent", gpu("radeon"), 12},
		{"trainwatch_gpu_temperature_celsius", gpu("radeon", "sensor", "edge"), 41},
		{"trainwatch_gpu_temperature_celsius", gpu("radeon", "sensor", "junction"), 48},
		{"trainwatch_gpu_temperature_celsius", gpu("radeon", "sensor", "mem"), 56},
		{"trainwatch_gpu_power_watts", gpu("radeon"), 45}, // power1_average, not power1_input
		{"trainwatch_gpu_power_limit_watts", gpu("radeon"), 303},
		{"trainwatch_gpu_fan_rpm", gpu("radeon"), 1100},
		{"trainwatch_gpu_clock_hertz", gpu("radeon", "clock", "memory"), 96e6},
		{"trainwatch_gpu_info", gpu("radeon", "vendor", "amd", "model", "AMD GPU 1002:744c", "driver", "amdgpu",
			"driver_version", "", "vbios_version", "113-D7020100-102", "serial", "", "pci_id", "1002:744c"), 1},
		{"trainwatch_gpu_process_memory_bytes", proc("0", "0000:03:00.0", "2200", "Xorg", "root", "", "", "", ""), 256 << 20},
		{"trainwatch_gpu_process_memory_bytes", proc("0", "0000:03:00.0", "3300", "blender", "alice", "", "", "", ""), 4 * gib},
		{"trainwatch_gpu_process_memory_bytes", proc("0", "0000:03:00.0", "3500", "gnome-shell", "alice", "", "", "", ""), 64 << 20},
	} {
		if got := v(tt.name, tt.labels...); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	if n := collectortest.Count(fams, "trainwatch_gpu_up"); n != 1 {
		t.Errorf("%d GPUs, want 1 (card1 is the Intel iGPU)", n)
	}
	if n := collectortest.Count(fams, "trainwatch_gpu_process_memory_bytes"); n != 3 {
		t.Errorf("%d process series, want 3 (firefox is on the iGPU)", n)
	}
	checkGolden(t, "radeon", c)
}

func TestRuntimeSuspended(t *testing.T) {
	roots := fixture(t, "radeon")
	status := filepath.Join(roots.Sys, "class", "drm", "card0", "device", "power", "runtime_status")
	if err := os.WriteFile(status, []byte("suspended\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var reads []string
	roots.Trace = func(p string) { reads = append(reads, p) }
	c, _ := newTest(t, roots, Config{DisableProcesses: true})
	collectortest.CollectOK(t, c) // discovery reads everything once
	reads = nil
	fams := collectortest.CollectOK(t, c)
	if got := collectortest.Names(fams); got != "trainwatch_gpu_info(1) trainwatch_gpu_memory_total_bytes(1) trainwatch_amdgpu_gtt_total_bytes(1) "+
		"trainwatch_gpu_pcie_link_generation(1) trainwatch_gpu_pcie_link_width(1) trainwatch_gpu_up(1)" {
		t.Errorf("suspended GPU: %s", got)
	}
	if len(reads) != 1 || !strings.HasSuffix(reads[0], "runtime_status") {
		t.Errorf("a suspended GPU's attributes were read: %v", reads)
	}
}

func TestNoAMDGPU(t *testing.T) {
	roots := fixture(t, "mi300x")
	for _, n := range []string{"card1", "card2"} {
		if err := os.Remove(filepath.Join(roots.Sys, "class", "drm", n)); err != nil {
			t.Fatal(err)
		}
	}
	c, _ := newTest(t, roots, Config{})
	_, err := collector.CollectOnce(context.Background(), c)
	collectortest.WantNoData(t, err)
	want := "amdgpu: no GPU bound to the amdgpu driver under " + filepath.Join(roots.Sys, "class", "drm") +
		" (cards found: card0: ast): no data on this machine"
	collectortest.WantErr(t, err, want)

	empty := t.TempDir()
	c, _ = newTest(t, hostfs.Roots{Sys: empty, Proc: empty}, Config{})
	_, err = collector.CollectOnce(context.Background(), c)
	collectortest.WantErr(t, err, "amdgpu: no GPU bound to the amdgpu driver under "+filepath.Join(empty, "class", "drm")+
		" (no DRM devices: no GPU driver is loaded): no data on this machine")

	if err := os.MkdirAll(filepath.Join(empty, "class", "drm"), 0o755); err != nil {
		t.Fatal(err)
	}
	c, _ = newTest(t, hostfs.Roots{Sys: empty, Proc: empty}, Config{})
	_, err = collector.CollectOnce(context.Background(), c)
	collectortest.WantErr(t, err, "amdgpu: no GPU bound to the amdgpu driver under "+filepath.Join(empty, "class", "drm")+
		" (no DRM cards): no data on this machine")
}

func TestDriverFromLink(t *testing.T) {
	roots := fixture(t, "radeon")
	// An old kernel's uevent without DRIVER: the driver link decides.
	dev := filepath.Join(roots.Sys, "class", "drm", "card0", "device")
	if err := os.WriteFile(filepath.Join(dev, "uevent"), []byte("PCI_ID=1002:744C\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, _ := newTest(t, roots, Config{DisableProcesses: true})
	fams := collectortest.CollectOK(t, c)
	if got := collectortest.Value(t, fams, "trainwatch_gpu_up", gpu("radeon")...); got != 1 {
		t.Errorf("up = %v", got)
	}
}

func TestCardRemoved(t *testing.T) {
	roots := fixture(t, "mi300x")
	c, clk := newTest(t, roots, Config{DisableProcesses: true})
	collectortest.CollectOK(t, c)
	// card2 is unbound: its files go.
	dev := filepath.Join(roots.Sys, "devices", "pci0000:10", "0000:10:01.1", "0000:11:00.0", "0000:12:00.0", "0000:15:00.0")
	if err := os.RemoveAll(dev); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(roots.Sys, "class", "drm", "card2")); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Second)
	fams := collectortest.CollectOK(t, c)
	if got := collectortest.Value(t, fams, "trainwatch_gpu_up", gpu("card2")...); got != 0 {
		t.Errorf("unreadable GPU: up = %v, want 0", got)
	}
	clk.advance(time.Second)
	fams = collectortest.CollectOK(t, c)
	if n := collectortest.Count(fams, "trainwatch_gpu_up"); n != 1 {
		t.Errorf("after rediscovery: %d GPUs, want 1", n)
	}
}

func TestProcessTopN(t *testing.T) {
	c, _ := newTest(t, fixture(t, "mi300x"), Config{ProcessTopN: 1})
	fams := collectortest.CollectOK(t, c)
	f := collectortest.Family(fams, "trainwatch_gpu_process_memory_bytes")
	var got []string
	for i := range f.Samples {
		got = append(got, f.Label(i, "gpu")+":"+f.Label(i, "pid"))
	}
	if strings.Join(got, " ") != "1:6060 2:5151" {
		t.Errorf("top 1 per GPU: %v, want the largest VRAM user of each", got)
	}
	for _, g := range [][]string{{"gpu", "1", "UUID", "5d3a1f0e6c2b4a97"}, {"gpu", "2", "UUID", "8c1e04b27f3a9d65"}} {
		if n := collectortest.Value(t, fams, "trainwatch_gpu_processes", g...); n != 2 {
			t.Errorf("trainwatch_gpu_processes%v = %v, want 2 (counted before the cut)", g, n)
		}
	}
}

func TestDisableProcesses(t *testing.T) {
	c, _ := newTest(t, fixture(t, "mi300x"), Config{DisableProcesses: true})
	fams := collectortest.CollectOK(t, c)
	if n := collectortest.Count(fams, "trainwatch_gpu_process_memory_bytes"); n != 0 {
		t.Errorf("%d process series with processes disabled", n)
	}
}

func TestConfig(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{ProcessInterval: -time.Second}, "amdgpu: process_interval -1s is negative; use a duration such as 5s, or disable_processes: true"},
		{Config{ProcessInterval: 100 * time.Millisecond}, "amdgpu: process_interval 100ms is below 1s; a /proc scan every tick costs a readlink per open file of every process"},
		{Config{ProcessTopN: -1}, "amdgpu: process_top_n -1 is negative; use a positive number, or disable_processes: true"},
	} {
		_, err := New(hostfs.Roots{}, tt.cfg)
		collectortest.WantErr(t, err, tt.want)
	}
	cfg, err := Config{}.withDefaults()
	if err != nil || cfg.ProcessInterval != DefaultProcessInterval || cfg.ProcessTopN != DefaultProcessTopN || cfg.Hostname == "" {
		t.Errorf("defaults: %+v, %v", cfg, err)
	}
	t.Setenv("NODE_NAME", "k8s-node-7")
	if cfg, _ := (Config{}).withDefaults(); cfg.Hostname != "k8s-node-7" {
		t.Errorf("Hostname = %q, want NODE_NAME's", cfg.Hostname)
	}
	if cfg, _ := (Config{Hostname: "x"}).withDefaults(); cfg.Hostname != "x" {
		t.Errorf("Hostname = %q, want the configured one", cfg.Hostname)
	}
}

// TestLive runs the collector on this machine: its GPUs if it has AMD
// ones, else the ErrNoData reason.
func TestLive(t *testing.T) {
	if _, err := os.Stat("/sys/class"); err != nil {
		t.Skip("no sysfs here")
	}
	col, err := New(hostfs.DefaultRoots(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	fams, err := collector.CollectOnce(context.Background(), col)
	if err != nil {
		collectortest.WantNoData(t, err)
		t.Logf("no AMD GPU here: %v", err)
		return
	}
	if collectortest.Count(fams, "trainwatch_gpu_up") == 0 {
		t.Errorf("no GPU reported: %s", collectortest.Names(fams))
	}
}

// checkGolden compares the collector's next output with
// testdata/golden/<name>.txt; UPDATE_GOLDEN=1 rewrites it.
func checkGolden(t *testing.T, name string, c collector.Collector) {
	t.Helper()
	fams := collectortest.CollectOK(t, c)
	b, err := exposition.Text(collector.MergeFamilies(fams))
	if err != nil {
		t.Fatal(err)
	}
	testenv.Golden(t, filepath.Join("testdata", "golden", name+".txt"), b)
}

func TestGPUNotAnswering(t *testing.T) {
	roots := fixture(t, "mi300x")
	c, clk := newTest(t, roots, Config{DisableProcesses: true})
	collectortest.CollectOK(t, c)
	// Every changing attribute of card2 fails to read (a GPU in reset
	// answers EPERM, one fallen off the bus EIO; a directory where the
	// file was gives EISDIR, which the test can make).
	cd := c.cards[1]
	attrs := append([]*attr{cd.busy, cd.memBusy, cd.vramUsed, cd.gttUsed, cd.power, cd.powerCap, cd.sclk, cd.mclk,
		cd.linkSpeed, cd.linkWidth}, cd.temps...)
	for _, a := range attrs {
		if err := os.Remove(a.path); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(a.path, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	clk.advance(time.Second)
	fams := collectortest.CollectOK(t, c)
	if got := collectortest.Value(t, fams, "trainwatch_gpu_up", gpu("card2")...); got != 0 {
		t.Errorf("up = %v, want 0", got)
	}
	if got := collectortest.Value(t, fams, "trainwatch_gpu_up", gpu("card1")...); got != 1 {
		t.Errorf("the other GPU: up = %v, want 1", got)
	}
	if n := collectortest.Count(fams, "trainwatch_gpu_utilization_percent"); n != 1 {
		t.Errorf("%d utilization series, want only card1's", n)
	}
}

func TestMalformedAttribute(t *testing.T) {
	roots := fixture(t, "mi300x")
	c, clk := newTest(t, roots, Config{DisableProcesses: true})
	collectortest.CollectOK(t, c)
	if err := os.WriteFile(c.cards[0].busy.path, []byte("garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Second)
	fams := collectortest.CollectOK(t, c)
	if n := collectortest.Count(fams, "trainwatch_gpu_utilization_percent"); n != 1 {
		t.Errorf("%d utilization series, want card2's only", n)
	}
	if got := collectortest.Value(t, fams, "trainwatch_gpu_up", gpu("card1")...); got != 1 {
		t.Errorf("up = %v: the driver answered", got)
	}
	if got := collectortest.Value(t, fams, "trainwatch_gpu_power_watts", gpu("card1")...); got != 612 {
		t.Errorf("the GPU's other series are lost: power = %v", got)
	}
}
