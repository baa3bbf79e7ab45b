// Package summary turns collector snapshots into Host: a typed, documented
// view of a machine's latest values with rates already computed. It is what
// `trainwatch summary` prints, what the JSON-lines log records, and what the
// web UI's "latest metrics" endpoint serves.
//
// Conventions (docs/summary.md documents every field):
//   - Units are in field names and are base units: _bytes, _seconds,
//     _celsius, _watts, _hertz, _per_second.
//   - Every fraction is a percentage from 0 to 100 and its name ends in
//     _percent (the brief, top, nvidia-smi and dcgm-exporter all speak
//     percent).
//   - Rates are computed between two snapshots. When there is no previous
//     snapshot, or the two are not ordered in time, RatesAvailable is false
//     and every rate is 0. A device that is new, or whose counters went
//     backwards (a reset), has its own RatesAvailable false and zero rates.
//   - Lists are never null and are sorted in natural order (cpu2 before
//     cpu10, sda before sdb); maps are emitted with sorted keys.
//   - Values that a source may not know (a temperature's critical limit, an
//     interface's speed, a GPU's power) are pointers, omitted when unknown.
package summary

import "time"

// Host is a summary of one machine at one time.
type Host struct {
	// Time is when the snapshot was taken, in UTC.
	Time time.Time `json:"time"`
	// Hostname is node_uname_info's nodename ("" when uname was not read).
	Hostname string `json:"hostname"`
	// Kernel is node_uname_info's release, e.g. "6.8.0-45-generic".
	Kernel string `json:"kernel"`
	// Machine is node_uname_info's machine (architecture), e.g. "x86_64".
	Machine string `json:"machine"`
	// UptimeSeconds is Time minus node_boot_time_seconds (0 when unknown).
	UptimeSeconds float64 `json:"uptime_seconds"`
	// RatesAvailable is true when rates were computed against a previous
	// snapshot taken IntervalSeconds earlier.
	RatesAvailable bool `json:"rates_available"`
	// IntervalSeconds is the time between the two snapshots the rates were
	// computed from (0 when RatesAvailable is false).
	IntervalSeconds float64 `json:"interval_seconds"`
	// Demo is true when the agent runs in demo mode (trainwatch_demo is
	// present): its GPU data is simulated.
	Demo bool `json:"demo"`
	// DemoScenario is trainwatch_demo's scenario label, e.g. "8x H200
	// training (simulated)"; omitted when Demo is false.
	DemoScenario string `json:"demo_scenario,omitempty"`

	CPU          CPU           `json:"cpu"`
	Memory       Memory        `json:"memory"`
	Filesystems  []Filesystem  `json:"filesystems"`
	Disks        []Disk        `json:"disks"`
	Network      []Interface   `json:"network"`
	Temperatures []Temperature `json:"temperatures"`
	// TCPConnectionStates counts TCP connections by state
	// (node_tcp_connection_states); empty when that collector is off.
	TCPConnectionStates map[string]uint64 `json:"tcp_connection_states"`
	// GPUBackends says which GPU backends (trainwatch_gpu_backend_up, e.g.
	// "nvml") are working, sorted by name; the collector of a backend that
	// is down says why in Collectors.
	GPUBackends []GPUBackend `json:"gpu_backends"`
	GPUs        []GPU        `json:"gpus"`
	// Processes are the agent's top processes (trainwatch_process_*), by
	// CPU, busiest first; empty when the process collector is off.
	Processes []Process `json:"processes"`
	// Jobs are the training jobs (trainwatch_job_*), by GPU memory, then
	// CPU, largest first; empty when none were found.
	Jobs []Job `json:"jobs"`
	// Collectors says which sources were read and why the others were not.
	Collectors []CollectorStatus `json:"collectors"`
}

// CPU summarises processor use, load and scheduler state.
type CPU struct {
	// Count is the number of logical CPUs in node_cpu_seconds_total.
	Count int `json:"count"`
	// RatesAvailable is true when BusyPercent and ModesPercent were computed
	// from at least one CPU with usable counters in both snapshots.
	RatesAvailable bool `json:"rates_available"`
	// BusyPercent is the average over all CPUs of
	// 100 × (1 − (Δidle + Δiowait) / Δtotal), as top and dashboard 1860 do.
	BusyPercent float64 `json:"busy_percent"`
	// ModesPercent is each mode's share (user, nice, system, idle, iowait,
	// irq, softirq, steal) of all CPU time in the interval; the values sum
	// to 100. Empty when rates are not available.
	ModesPercent map[string]float64 `json:"modes_percent"`
	// Cores holds the busy percentage of each logical CPU.
	Cores []Core `json:"cores"`
	// Load1, Load5 and Load15 are the 1, 5 and 15 minute load averages.
	Load1  float64 `json:"load1"`
	Load5  float64 `json:"load5"`
	Load15 float64 `json:"load15"`
	// ProcsRunning and ProcsBlocked are node_procs_running/blocked.
	ProcsRunning uint64 `json:"procs_running"`
	ProcsBlocked uint64 `json:"procs_blocked"`
}

// Core is one logical CPU.
type Core struct {
	// CPU is the cpu label, e.g. "0".
	CPU string `json:"cpu"`
	// RatesAvailable is false for a CPU that is new or whose counters did
	// not advance; BusyPercent is then 0.
	RatesAvailable bool `json:"rates_available"`
	// BusyPercent is 100 × (1 − (Δidle + Δiowait) / Δtotal).
	BusyPercent float64 `json:"busy_percent"`
}

// Memory summarises RAM and swap. Used memory is Total − Available, the
// figure the brief's alert and dashboard 1860 use.
type Memory struct {
	TotalBytes     uint64 `json:"total_bytes"`
	UsedBytes      uint64 `json:"used_bytes"`
	AvailableBytes uint64 `json:"available_bytes"`
	FreeBytes      uint64 `json:"free_bytes"`
	BuffersBytes   uint64 `json:"buffers_bytes"`
	CachedBytes    uint64 `json:"cached_bytes"`
	// UsedPercent is 100 × UsedBytes / TotalBytes.
	UsedPercent    float64 `json:"used_percent"`
	SwapTotalBytes uint64  `json:"swap_total_bytes"`
	SwapUsedBytes  uint64  `json:"swap_used_bytes"`
	SwapFreeBytes  uint64  `json:"swap_free_bytes"`
	// SwapUsedPercent is 100 × SwapUsedBytes / SwapTotalBytes (0 without swap).
	SwapUsedPercent float64 `json:"swap_used_percent"`
}

// Filesystem is one mounted filesystem.
type Filesystem struct {
	Mountpoint string `json:"mountpoint"`
	Device     string `json:"device"`
	FSType     string `json:"fstype"`
	SizeBytes  uint64 `json:"size_bytes"`
	// UsedBytes is SizeBytes − AvailBytes: space that unprivileged users
	// cannot use, including blocks reserved for root.
	UsedBytes uint64 `json:"used_bytes"`
	// AvailBytes is the space available to unprivileged users.
	AvailBytes uint64 `json:"avail_bytes"`
	// FreeBytes is the free space including blocks reserved for root.
	FreeBytes uint64 `json:"free_bytes"`
	// UsedPercent is 100 × (1 − AvailBytes / SizeBytes); the brief's "less
	// than 10 % free" alert fires when it exceeds 90.
	UsedPercent float64 `json:"used_percent"`
	InodesTotal uint64  `json:"inodes_total"`
	InodesUsed  uint64  `json:"inodes_used"`
	InodesFree  uint64  `json:"inodes_free"`
	// InodesUsedPercent is 100 × InodesUsed / InodesTotal (0 for
	// filesystems without a fixed inode table).
	InodesUsedPercent float64 `json:"inodes_used_percent"`
	Readonly          bool    `json:"readonly"`
	// Error is why the filesystem could not be read (node_exporter's
	// device_error label, e.g. "mountpoint timeout"); "" when it was read.
	Error string `json:"error"`
}

// Disk is the I/O of one block device over the interval, as iostat -x
// reports it.
type Disk struct {
	Device string `json:"device"`
	// RatesAvailable is false for a device that is new or whose counters
	// went backwards; every rate is then 0.
	RatesAvailable       bool    `json:"rates_available"`
	ReadBytesPerSecond   float64 `json:"read_bytes_per_second"`
	WriteBytesPerSecond  float64 `json:"write_bytes_per_second"`
	ReadOpsPerSecond     float64 `json:"read_ops_per_second"`
	WriteOpsPerSecond    float64 `json:"write_ops_per_second"`
	ReadLatencySeconds   float64 `json:"read_latency_seconds"`
	WriteLatencySeconds  float64 `json:"write_latency_seconds"`
	UtilizationPercent   float64 `json:"utilization_percent"`
	QueueDepth           float64 `json:"queue_depth"`
	ReadBytesTotal       uint64  `json:"read_bytes_total"`
	WrittenBytesTotal    uint64  `json:"written_bytes_total"`
	ReadsCompletedTotal  uint64  `json:"reads_completed_total"`
	WritesCompletedTotal uint64  `json:"writes_completed_total"`
}

// Interface is one network interface over the interval.
type Interface struct {
	Device string `json:"device"`
	// Up is node_network_up (operstate "up"); omitted when unknown.
	// Loopback reports operstate "unknown", so it is false there.
	Up *bool `json:"up,omitempty"`
	// SpeedBytesPerSecond is the link speed; omitted when unknown.
	SpeedBytesPerSecond *uint64 `json:"speed_bytes_per_second,omitempty"`
	// RatesAvailable is false for an interface that is new or whose
	// counters went backwards; every rate is then 0.
	RatesAvailable           bool    `json:"rates_available"`
	ReceiveBytesPerSecond    float64 `json:"receive_bytes_per_second"`
	TransmitBytesPerSecond   float64 `json:"transmit_bytes_per_second"`
	ReceivePacketsPerSecond  float64 `json:"receive_packets_per_second"`
	TransmitPacketsPerSecond float64 `json:"transmit_packets_per_second"`
	ReceiveErrorsPerSecond   float64 `json:"receive_errors_per_second"`
	TransmitErrorsPerSecond  float64 `json:"transmit_errors_per_second"`
	ReceiveDropsPerSecond    float64 `json:"receive_drops_per_second"`
	TransmitDropsPerSecond   float64 `json:"transmit_drops_per_second"`
	ReceiveBytesTotal        uint64  `json:"receive_bytes_total"`
	TransmitBytesTotal       uint64  `json:"transmit_bytes_total"`
}

// Temperature sources.
const (
	SourceHwmon       = "hwmon"
	SourceThermalZone = "thermal_zone"
)

// Temperature is one temperature sensor: an hwmon sensor or a thermal zone.
type Temperature struct {
	// Source is "hwmon" or "thermal_zone".
	Source string `json:"source"`
	// Chip is the hwmon chip label (e.g. "platform_coretemp_0") or, for a
	// thermal zone, "thermal_zone<N>".
	Chip string `json:"chip"`
	// ChipName is the driver name (node_hwmon_chip_names, e.g. "coretemp",
	// "nvme", "k10temp"); "thermal_zone" for thermal zones.
	ChipName string `json:"chip_name"`
	// Sensor is the hwmon sensor (e.g. "temp1") or the thermal zone number.
	Sensor string `json:"sensor"`
	// Label is the sensor's label (e.g. "Package id 0", "Core 3") or the
	// thermal zone type (e.g. "x86_pkg_temp"); "" when it has none.
	Label   string  `json:"label"`
	Celsius float64 `json:"celsius"`
	// MaxCelsius and CritCelsius are the hardware's limits, when known.
	MaxCelsius  *float64 `json:"max_celsius,omitempty"`
	CritCelsius *float64 `json:"crit_celsius,omitempty"`
}

// GPU vendors.
const (
	VendorNVIDIA = "nvidia"
	VendorAMD    = "amd"
)

// GPUBackend is one GPU backend and whether it works.
type GPUBackend struct {
	// Backend is the backend label of trainwatch_gpu_backend_up, e.g. "nvml".
	Backend string `json:"backend"`
	// Up is true when the backend is loaded and initialised.
	Up bool `json:"up"`
}

// GPU is one GPU: an NVIDIA GPU from dcgm-exporter-compatible series
// (DCGM_FI_*) and trainwatch_gpu_* extras, or an AMD GPU from the
// vendor-neutral trainwatch_gpu_* series. Each reading is omitted when the
// GPU or driver does not report it.
type GPU struct {
	// Index is the gpu label ("0", "1", ...).
	Index     string `json:"index"`
	UUID      string `json:"uuid"`
	ModelName string `json:"model_name"`
	// Device is the device label, e.g. "nvidia0" or "card1".
	Device   string `json:"device"`
	PCIBusID string `json:"pci_bus_id"`
	// Vendor is "nvidia" or "amd" ("" when no series tells).
	Vendor string `json:"vendor"`
	// Up is false when trainwatch_gpu_up is 0: the GPU is lost (fallen off
	// the bus, in reset) or did not answer in time. Its readings are then
	// omitted. Without trainwatch_gpu_up (plain dcgm-exporter) it is true.
	Up bool `json:"up"`
	// UtilizationPercent is DCGM_FI_DEV_GPU_UTIL or
	// trainwatch_gpu_utilization_percent.
	UtilizationPercent *float64 `json:"utilization_percent,omitempty"`
	// MemoryCopyUtilizationPercent is DCGM_FI_DEV_MEM_COPY_UTIL or
	// trainwatch_gpu_memory_utilization_percent.
	MemoryCopyUtilizationPercent *float64 `json:"memory_copy_utilization_percent,omitempty"`
	// MemoryUsedBytes and MemoryFreeBytes are DCGM_FI_DEV_FB_USED/FB_FREE
	// converted from MiB (AMD: trainwatch_gpu_memory_used_bytes and total −
	// used).
	MemoryUsedBytes *uint64 `json:"memory_used_bytes,omitempty"`
	MemoryFreeBytes *uint64 `json:"memory_free_bytes,omitempty"`
	// MemoryTotalBytes is used + free for NVIDIA (driver-reserved memory
	// excluded), trainwatch_gpu_memory_total_bytes for AMD.
	MemoryTotalBytes *uint64 `json:"memory_total_bytes,omitempty"`
	// MemoryUsedPercent is 100 × used / (used + free) for NVIDIA, 100 ×
	// used / total for AMD.
	MemoryUsedPercent *float64 `json:"memory_used_percent,omitempty"`
	// TemperatureCelsius is DCGM_FI_DEV_GPU_TEMP; for AMD the "edge"
	// sensor, else "junction", else another non-memory sensor.
	TemperatureCelsius *float64 `json:"temperature_celsius,omitempty"`
	PowerWatts         *float64 `json:"power_watts,omitempty"`
	// PowerLimitWatts is DCGM_FI_DEV_POWER_MGMT_LIMIT (else
	// DCGM_FI_DEV_ENFORCED_POWER_LIMIT) or trainwatch_gpu_power_limit_watts.
	PowerLimitWatts  *float64 `json:"power_limit_watts,omitempty"`
	SMClockHertz     *float64 `json:"sm_clock_hertz,omitempty"`
	MemoryClockHertz *float64 `json:"memory_clock_hertz,omitempty"`
	// PState is DCGM_FI_DEV_PSTATE, 0 (fastest) to 15.
	PState *int `json:"pstate,omitempty"`
	// TensorActivePercent and SMActivePercent are DCGM_FI_PROF_PIPE_TENSOR_ACTIVE
	// and DCGM_FI_PROF_SM_ACTIVE (ratios) × 100.
	TensorActivePercent *float64 `json:"tensor_active_percent,omitempty"`
	SMActivePercent     *float64 `json:"sm_active_percent,omitempty"`
	// ThrottleReasons are the active clock-event reasons
	// (trainwatch_gpu_clock_event_active, else the bits of
	// DCGM_FI_DEV_CLOCK_THROTTLE_REASONS), sorted; "gpu_idle" included.
	ThrottleReasons []string `json:"throttle_reasons"`
	// XIDEventsTotal is the sum of XIDs, the XID errors counted since the
	// agent started (trainwatch_gpu_xid_events_total).
	XIDEventsTotal uint64 `json:"xid_events_total"`
	// XIDs counts XID errors by XID code.
	XIDs map[string]uint64 `json:"xids"`
	// Processes are the processes using the GPU (the agent's top N per
	// GPU), by memory, largest first.
	Processes []GPUProcess `json:"processes"`
}

// GPUProcess is one process using a GPU, from
// trainwatch_gpu_process_*{pid,command,user,container,pod,namespace,slurm_job}.
type GPUProcess struct {
	PID     int64  `json:"pid"`
	Command string `json:"command"`
	User    string `json:"user"`
	// Container is the short container id, Pod the Kubernetes pod UID,
	// Namespace its namespace and SlurmJob the Slurm job id; "" when none.
	Container string `json:"container"`
	Pod       string `json:"pod"`
	Namespace string `json:"namespace"`
	SlurmJob  string `json:"slurm_job"`
	// MemoryBytes is trainwatch_gpu_process_memory_bytes.
	MemoryBytes uint64 `json:"memory_bytes"`
	// SMUtilizationPercent is trainwatch_gpu_process_sm_utilization_percent
	// (NVIDIA).
	SMUtilizationPercent *float64 `json:"sm_utilization_percent,omitempty"`
	// UtilizationPercent is trainwatch_gpu_process_utilization_percent
	// (AMD: graphics/compute engine busy; ROCm compute queues not counted).
	UtilizationPercent *float64 `json:"utilization_percent,omitempty"`
}

// CollectorStatus says whether one collector produced fresh values.
type CollectorStatus struct {
	Name    string `json:"name"`
	Success bool   `json:"success"`
	// Error says why the collector failed or was late; "" on success.
	Error string `json:"error"`
	// NoData is true when the collector failed only because its source
	// does not exist on this machine (no sensors, no GPU of that vendor):
	// not a fault.
	NoData bool `json:"no_data,omitempty"`
}
