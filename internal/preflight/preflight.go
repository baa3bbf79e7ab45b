// Package preflight runs the brief's before-training checklist over a host
// summary: GPUs present and healthy, no stale process holding GPU memory,
// enough free GPU memory, disk space and RAM, temperatures normal, and the
// driver and CUDA versions known. Each check yields a Result that says
// PASS, WARN or FAIL, with a one-line detail and a hint on how to fix it.
//
// The checks are pure functions of their inputs: the free space of the
// output directory comes from an injected StatFunc, so that tests need no
// particular filesystem.
package preflight

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/trainwatch/trainwatch/internal/bytesize"
	"github.com/trainwatch/trainwatch/internal/jobs"
	"github.com/trainwatch/trainwatch/internal/summary"
)

// Status is the outcome of one check.
type Status string

// The outcomes, from best to worst.
const (
	Pass Status = "PASS"
	Warn Status = "WARN"
	Fail Status = "FAIL"
)

// Check names, in the order Run reports them.
const (
	CheckGPUs        = "gpus"
	CheckGPUHealth   = "gpu-health"
	CheckGPUProcs    = "gpu-processes"
	CheckGPUMemory   = "gpu-memory"
	CheckDisk        = "disk"
	CheckMemory      = "memory"
	CheckTemperature = "temperatures"
	CheckDriver      = "driver"
)

// Result is the outcome of one check.
type Result struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Detail says what was found, in one line.
	Detail string `json:"detail"`
	// Hint says how to fix a WARN or FAIL; "" on PASS.
	Hint string `json:"hint"`
}

// DiskSpace is the space of the filesystem that holds a directory.
type DiskSpace struct {
	// AvailBytes is the space available to unprivileged users.
	AvailBytes uint64
	TotalBytes uint64
}

// StatFunc returns the space of the filesystem that holds dir.
type StatFunc func(dir string) (DiskSpace, error)

// StatFS is the StatFunc of this machine: statfs(2) of dir.
func StatFS(dir string) (DiskSpace, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return DiskSpace{}, fmt.Errorf("statfs %s: %w", dir, err)
	}
	bs := uint64(st.Bsize) //nolint:gosec // a block size is positive
	return DiskSpace{AvailBytes: st.Bavail * bs, TotalBytes: st.Blocks * bs}, nil
}

// Threshold is a minimum amount: a percentage of a total, or bytes.
type Threshold struct {
	// Percent, when positive, is the minimum as a percentage of the total.
	Percent float64
	// Bytes is the minimum in bytes when Percent is 0.
	Bytes uint64
}

// ParseThreshold reads "90%" (a percentage from 0 to 100) or a size that
// bytesize.Parse reads ("10GB", "512MiB", "1073741824").
func ParseThreshold(s string) (Threshold, error) {
	t := strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(t, "%"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || v < 0 || v > 100 {
			return Threshold{}, fmt.Errorf("threshold %q: want a percentage from 0%% to 100%%, or a size such as 10GB", s)
		}
		if v == 0 {
			return Threshold{}, nil
		}
		return Threshold{Percent: v}, nil
	}
	b, err := bytesize.Parse(t)
	if err != nil {
		return Threshold{}, fmt.Errorf("threshold: %w (or a percentage such as 90%%)", err)
	}
	return Threshold{Bytes: uint64(b)}, nil
}

// Of returns the minimum in bytes for a total of total bytes.
func (t Threshold) Of(total uint64) uint64 {
	if t.Percent > 0 {
		return uint64(t.Percent / 100 * float64(total))
	}
	return t.Bytes
}

// String formats the threshold as ParseThreshold reads it.
func (t Threshold) String() string {
	if t.Percent > 0 {
		return strconv.FormatFloat(t.Percent, 'f', -1, 64) + "%"
	}
	return HumanBytes(t.Bytes)
}

// Versions are the GPU driver's versions; "" when unknown.
type Versions struct {
	Driver string
	CUDA   string
}

// Options configures Run.
type Options struct {
	// NoGPU makes a machine without GPUs pass the gpus check.
	NoGPU bool
	// MinGPUFree is the free memory each GPU must have.
	MinGPUFree Threshold
	// MinDiskBytes is the space Dir's filesystem must have available.
	MinDiskBytes uint64
	// MinMem is the available RAM the host must have.
	MinMem Threshold
	// MaxGPUCelsius is the GPU temperature from which a GPU is too hot.
	MaxGPUCelsius float64
	// Dir is the output/checkpoint directory whose free space is checked.
	Dir string
	// StatFS reads Dir's free space. When nil, the space is taken from the
	// host's filesystem whose mountpoint holds Dir (for a remote agent).
	StatFS StatFunc
	// Versions are the GPU driver's versions.
	Versions Versions
}

// Defaults returns the checklist's defaults: 90 % free GPU memory, 10 GiB
// free disk in ".", 10 % available RAM, GPUs under 80 °C.
func Defaults() Options {
	return Options{
		MinGPUFree:    Threshold{Percent: 90},
		MinDiskBytes:  10 << 30,
		MinMem:        Threshold{Percent: 10},
		MaxGPUCelsius: 80,
		Dir:           ".",
		StatFS:        StatFS,
	}
}

// Run runs every check over h. Checks about GPUs are left out when h has
// none.
func Run(h *summary.Host, o Options) []Result {
	rs := []Result{checkGPUs(h, o)}
	if len(h.GPUs) > 0 {
		rs = append(rs, checkGPUHealth(h), checkGPUProcesses(h), checkGPUMemory(h, o))
	}
	rs = append(rs, checkDisk(h, o), checkMemory(h, o), checkTemperatures(h, o))
	if len(h.GPUs) > 0 {
		rs = append(rs, checkDriver(o.Versions))
	}
	return rs
}

// OK reports whether no result FAILs (with strict, also none WARNs).
func OK(rs []Result, strict bool) bool {
	for _, r := range rs {
		if r.Status == Fail || (strict && r.Status == Warn) {
			return false
		}
	}
	return true
}

func checkGPUs(h *summary.Host, o Options) Result {
	r := Result{Name: CheckGPUs}
	if len(h.GPUs) == 0 {
		why := gpuMissingReason(h)
		if o.NoGPU {
			r.Status, r.Detail = Pass, "no GPU found (--no-gpu given): "+why
			return r
		}
		r.Status, r.Detail = Fail, "no GPU found: "+why
		r.Hint = "install or repair the GPU driver (nvidia-smi must work), or pass --no-gpu for a CPU-only machine"
		return r
	}
	counts := map[string]int{}
	for _, g := range h.GPUs {
		name := g.ModelName
		if name == "" {
			name = "unknown GPU"
		}
		counts[name]++
	}
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%d × %s", counts[n], n)
	}
	r.Status, r.Detail = Pass, strings.Join(parts, ", ")
	if o.Versions.Driver != "" || o.Versions.CUDA != "" {
		r.Detail += fmt.Sprintf(" (driver %s, CUDA %s)", orUnknown(o.Versions.Driver), orUnknown(o.Versions.CUDA))
	}
	if h.Demo {
		r.Detail += " [simulated: demo mode]"
	}
	return r
}

// gpuMissingReason says why no GPU is visible, from the GPU collectors'
// errors.
func gpuMissingReason(h *summary.Host) string {
	var reasons []string
	for _, name := range []string{"gpu", "nvml", "amdgpu"} {
		for _, c := range h.Collectors {
			if c.Name == name && !c.Success && c.Error != "" {
				reasons = append(reasons, c.Error)
			}
		}
	}
	if len(reasons) == 0 {
		return "no GPU backend reported a GPU"
	}
	return strings.Join(reasons, "; ")
}

// hardwareXIDs are the XID codes that point at the GPU, its memory or the
// bus rather than at an application (NVIDIA's XID catalogue).
var hardwareXIDs = map[string]bool{"48": true, "61": true, "62": true, "63": true, "64": true, "74": true,
	"79": true, "92": true, "94": true, "95": true, "119": true, "120": true}

func checkGPUHealth(h *summary.Host) Result {
	r := Result{Name: CheckGPUHealth, Status: Pass}
	var problems []string
	for _, g := range h.GPUs {
		if !g.Up {
			problems = append(problems, "gpu"+g.Index+" lost (fallen off the bus or not answering)")
			r.Status = Fail
			continue
		}
		if g.XIDEventsTotal == 0 {
			continue
		}
		codes := make([]string, 0, len(g.XIDs))
		for c := range g.XIDs {
			codes = append(codes, c)
		}
		sort.Slice(codes, func(i, j int) bool { return jobs.LessIndex(codes[i], codes[j]) })
		var desc []string
		for _, c := range codes {
			desc = append(desc, fmt.Sprintf("XID %s ×%d", c, g.XIDs[c]))
			if hardwareXIDs[c] {
				r.Status = Fail
			}
		}
		if r.Status == Pass {
			r.Status = Warn
		}
		problems = append(problems, "gpu"+g.Index+": "+strings.Join(desc, ", "))
	}
	if len(problems) == 0 {
		r.Detail = fmt.Sprintf("all %d GPUs up, no XID errors", len(h.GPUs))
		return r
	}
	r.Detail = strings.Join(problems, "; ")
	r.Hint = "look up the XIDs in NVIDIA's XID catalogue and dmesg; reset or drain a lost GPU (nvidia-smi -r) before training"
	return r
}

func checkGPUProcesses(h *summary.Host) Result {
	r := Result{Name: CheckGPUProcs, Status: Pass}
	type holder struct {
		pid     int64
		command string
		gpus    []string
		bytes   uint64
	}
	byPID := map[int64]*holder{}
	for _, g := range h.GPUs {
		for _, p := range g.Processes {
			if p.MemoryBytes == 0 {
				continue
			}
			hd := byPID[p.PID]
			if hd == nil {
				hd = &holder{pid: p.PID, command: p.Command}
				byPID[p.PID] = hd
			}
			hd.gpus = append(hd.gpus, "gpu"+g.Index)
			hd.bytes += p.MemoryBytes
		}
	}
	if len(byPID) == 0 {
		r.Detail = "no process holds GPU memory"
		return r
	}
	hs := make([]*holder, 0, len(byPID))
	for _, hd := range byPID {
		hs = append(hs, hd)
	}
	sort.Slice(hs, func(i, j int) bool {
		return hs[i].bytes > hs[j].bytes || (hs[i].bytes == hs[j].bytes && hs[i].pid < hs[j].pid)
	})
	const shown = 4
	var parts []string
	for i, hd := range hs {
		if i == shown {
			parts = append(parts, fmt.Sprintf("and %d more", len(hs)-shown))
			break
		}
		parts = append(parts, fmt.Sprintf("pid %d %s (%s on %s)", hd.pid, orUnknown(hd.command), HumanBytes(hd.bytes), strings.Join(hd.gpus, ",")))
	}
	r.Status = Warn
	if len(h.Jobs) == 0 {
		r.Detail = fmt.Sprintf("%d process(es) hold GPU memory while no training job runs: %s", len(hs), strings.Join(parts, "; "))
		r.Hint = "stale processes from an earlier run? check them with `ps -fp PID` and end them (kill PID) before training"
		return r
	}
	jobs := make([]string, 0, len(h.Jobs))
	for _, j := range h.Jobs {
		jobs = append(jobs, fmt.Sprintf("%s (root pid %d)", orUnknown(j.Name), j.RootPID))
	}
	r.Detail = fmt.Sprintf("training job(s) already running: %s; GPU memory held by %s", strings.Join(jobs, ", "), strings.Join(parts, "; "))
	r.Hint = "wait for the running job to finish, or pick free GPUs with CUDA_VISIBLE_DEVICES"
	return r
}

func checkGPUMemory(h *summary.Host, o Options) Result {
	r := Result{Name: CheckGPUMemory, Status: Pass}
	var low, unknown []string
	minFree := uint64(0)
	lowest := ^uint64(0)
	for _, g := range h.GPUs {
		if g.MemoryTotalBytes == nil || *g.MemoryTotalBytes == 0 || (g.MemoryFreeBytes == nil && g.MemoryUsedBytes == nil) {
			unknown = append(unknown, "gpu"+g.Index)
			continue
		}
		total := *g.MemoryTotalBytes
		var free uint64
		if g.MemoryFreeBytes != nil {
			free = *g.MemoryFreeBytes
		} else if *g.MemoryUsedBytes < total {
			free = total - *g.MemoryUsedBytes
		}
		need := o.MinGPUFree.Of(total)
		minFree = max(minFree, need)
		lowest = min(lowest, free)
		if free < need {
			low = append(low, fmt.Sprintf("gpu%s %s free of %s", g.Index, HumanBytes(free), HumanBytes(total)))
		}
	}
	switch {
	case len(low) > 0:
		r.Status = Fail
		r.Detail = fmt.Sprintf("%d GPU(s) below %s free: %s", len(low), o.MinGPUFree, strings.Join(low, "; "))
		r.Hint = "free the GPUs (see gpu-processes), use fewer/other GPUs, or lower --min-gpu-free"
	case len(unknown) == len(h.GPUs):
		r.Status = Warn
		r.Detail = "GPU memory not reported"
		r.Hint = "the GPU driver does not report memory use; check nvidia-smi"
	case len(unknown) > 0:
		r.Status = Warn
		r.Detail = "memory not reported for " + strings.Join(unknown, ", ")
		r.Hint = "the GPU driver does not report memory use for these GPUs; check nvidia-smi"
	default:
		r.Detail = fmt.Sprintf("every GPU has ≥ %s free (lowest %s)", o.MinGPUFree, HumanBytes(lowest))
	}
	return r
}

func checkDisk(h *summary.Host, o Options) Result {
	r := Result{Name: CheckDisk}
	dir := o.Dir
	if dir == "" {
		dir = "."
	}
	var space DiskSpace
	var err error
	if o.StatFS != nil {
		space, err = o.StatFS(dir)
	} else {
		space, err = fromFilesystems(h, dir)
	}
	if err != nil {
		r.Status = Fail
		r.Detail = fmt.Sprintf("cannot read the free space of %s: %v", dir, err)
		r.Hint = "create the output directory first, or pass the right one with --dir"
		return r
	}
	r.Detail = fmt.Sprintf("%s: %s free of %s (need %s)", dir, HumanBytes(space.AvailBytes), HumanBytes(space.TotalBytes), HumanBytes(o.MinDiskBytes))
	if space.AvailBytes < o.MinDiskBytes {
		r.Status = Fail
		r.Hint = "free space (old checkpoints, caches), write checkpoints to a larger disk with --dir, or lower --min-disk"
		return r
	}
	r.Status = Pass
	return r
}

// fromFilesystems finds the space of dir in the host's filesystems: the
// one with the longest mountpoint that holds dir.
func fromFilesystems(h *summary.Host, dir string) (DiskSpace, error) {
	if !filepath.IsAbs(dir) {
		return DiskSpace{}, fmt.Errorf("%q is relative; give an absolute --dir for a remote agent", dir)
	}
	dir = filepath.Clean(dir)
	best := -1
	for i, fs := range h.Filesystems {
		mp := fs.Mountpoint
		if dir == mp || mp == "/" || strings.HasPrefix(dir, strings.TrimSuffix(mp, "/")+"/") {
			if best < 0 || len(mp) > len(h.Filesystems[best].Mountpoint) {
				best = i
			}
		}
	}
	if best < 0 {
		return DiskSpace{}, fmt.Errorf("no filesystem the agent reports holds %s", dir)
	}
	fs := h.Filesystems[best]
	if fs.Error != "" {
		return DiskSpace{}, fmt.Errorf("filesystem %s: %s", fs.Mountpoint, fs.Error)
	}
	return DiskSpace{AvailBytes: fs.AvailBytes, TotalBytes: fs.SizeBytes}, nil
}

func checkMemory(h *summary.Host, o Options) Result {
	r := Result{Name: CheckMemory}
	m := h.Memory
	if m.TotalBytes == 0 {
		r.Status, r.Detail = Warn, "memory size unknown (/proc/meminfo not read)"
		r.Hint = "see the meminfo collector's error in `trainwatch summary`"
		return r
	}
	need := o.MinMem.Of(m.TotalBytes)
	r.Detail = fmt.Sprintf("%s available of %s (need %s)", HumanBytes(m.AvailableBytes), HumanBytes(m.TotalBytes), HumanBytes(need))
	if m.AvailableBytes < need {
		r.Status = Fail
		r.Hint = "end memory-hungry processes (see `trainwatch summary`), or lower --min-mem"
		return r
	}
	r.Status = Pass
	return r
}

func checkTemperatures(h *summary.Host, o Options) Result {
	r := Result{Name: CheckTemperature, Status: Pass}
	var hot []string
	var gpuMax float64
	gpuSeen := 0
	for _, g := range h.GPUs {
		if g.TemperatureCelsius == nil {
			continue
		}
		t := *g.TemperatureCelsius
		gpuSeen++
		gpuMax = max(gpuMax, t)
		if t >= o.MaxGPUCelsius {
			hot = append(hot, fmt.Sprintf("gpu%s %.0f °C", g.Index, t))
			r.Status = Fail
		}
	}
	var warm []string
	var hostMax float64
	for _, s := range h.Temperatures {
		hostMax = max(hostMax, s.Celsius)
		limit := s.MaxCelsius
		if limit == nil || *limit <= 0 {
			limit = s.CritCelsius
		}
		if limit != nil && *limit > 0 && s.Celsius >= *limit {
			name := s.Chip + "/" + s.Sensor
			if s.Label != "" {
				name = s.Label
			}
			warm = append(warm, fmt.Sprintf("%s %.0f °C (limit %.0f °C)", name, s.Celsius, *limit))
		}
	}
	if len(warm) > 0 && r.Status == Pass {
		r.Status = Warn
	}
	var parts []string
	if gpuSeen > 0 {
		parts = append(parts, fmt.Sprintf("GPUs max %.0f °C (limit %.0f °C)", gpuMax, o.MaxGPUCelsius))
	}
	if len(h.Temperatures) > 0 {
		parts = append(parts, fmt.Sprintf("host sensors max %.0f °C", hostMax))
	} else {
		parts = append(parts, "no host sensors")
	}
	if bad := append(hot, warm...); len(bad) > 0 {
		r.Detail = "too hot: " + strings.Join(bad, "; ")
		r.Hint = "check cooling and airflow (fans, room temperature) and let the machine cool down before training"
		return r
	}
	r.Detail = strings.Join(parts, "; ")
	if gpuSeen == 0 && len(h.Temperatures) == 0 {
		r.Status = Warn
		r.Detail = "no temperature readings (no GPU temperatures, no host sensors)"
		r.Hint = "on bare metal load the sensor drivers (sensors-detect from lm-sensors); VMs usually have none"
	}
	return r
}

func checkDriver(v Versions) Result {
	r := Result{Name: CheckDriver, Status: Pass}
	r.Detail = fmt.Sprintf("driver %s, CUDA %s", orUnknown(v.Driver), orUnknown(v.CUDA))
	if v.Driver == "" || v.CUDA == "" {
		r.Status = Warn
		r.Hint = "versions unknown: the GPU backend did not report them (run nvidia-smi to see them)"
	}
	return r
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// HumanBytes formats n bytes with a binary unit and one decimal, e.g.
// "12.5 GiB", as the summary does.
func HumanBytes(n uint64) string { return summary.FormatBytes(n) }
