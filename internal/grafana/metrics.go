package grafana

// The metric names the dashboards query. Where the emitting package exports
// its names (internal/jobs' descriptors, internal/runs' status values) the
// dashboards take them from there; the others are emitted by collectors
// that keep their names unexported, and are listed here once. The
// cmd/trainwatch tests check every name a dashboard query uses against the
// families the agent's own collectors emit, so a renamed metric fails the
// build instead of leaving a panel empty.

// dcgm-exporter's names, emitted by the NVIDIA backend (docs/gpu.md).
const (
	dcgmGPUUtil          = "DCGM_FI_DEV_GPU_UTIL"
	dcgmMemCopyUtil      = "DCGM_FI_DEV_MEM_COPY_UTIL"
	dcgmFBUsed           = "DCGM_FI_DEV_FB_USED"  // MiB
	dcgmFBTotal          = "DCGM_FI_DEV_FB_TOTAL" // MiB
	dcgmGPUTemp          = "DCGM_FI_DEV_GPU_TEMP"
	dcgmMemoryTemp       = "DCGM_FI_DEV_MEMORY_TEMP"
	dcgmSlowdownTemp     = "DCGM_FI_DEV_SLOWDOWN_TEMP"
	dcgmPowerUsage       = "DCGM_FI_DEV_POWER_USAGE"
	dcgmEnforcedLimit    = "DCGM_FI_DEV_ENFORCED_POWER_LIMIT"
	dcgmEnergy           = "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION" // mJ
	dcgmSMClock          = "DCGM_FI_DEV_SM_CLOCK"                 // MHz
	dcgmMemClock         = "DCGM_FI_DEV_MEM_CLOCK"                // MHz
	dcgmMaxSMClock       = "DCGM_FI_DEV_MAX_SM_CLOCK"             // MHz
	dcgmPowerViolation   = "DCGM_FI_DEV_POWER_VIOLATION"          // ns
	dcgmThermalViolation = "DCGM_FI_DEV_THERMAL_VIOLATION"        // ns
	dcgmXIDErrors        = "DCGM_FI_DEV_XID_ERRORS"
	dcgmPCIeTx           = "DCGM_FI_DEV_PCIE_TX_THROUGHPUT" // KB/s
	dcgmPCIeRx           = "DCGM_FI_DEV_PCIE_RX_THROUGHPUT" // KB/s
	dcgmPCIeReplay       = "DCGM_FI_DEV_PCIE_REPLAY_COUNTER"
	dcgmECCDBEVolatile   = "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL"
	dcgmRemapPending     = "DCGM_FI_DEV_ROW_REMAP_PENDING"
	dcgmProfSMActive     = "DCGM_FI_PROF_SM_ACTIVE"
	dcgmProfSMOccupancy  = "DCGM_FI_PROF_SM_OCCUPANCY"
	dcgmProfTensorActive = "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE"
	dcgmProfDRAMActive   = "DCGM_FI_PROF_DRAM_ACTIVE"
)

// trainwatch's GPU names, from both backends (docs/gpu.md, docs/gpu-amd.md).
const (
	gpuUp               = "trainwatch_gpu_up"
	gpuProcesses        = "trainwatch_gpu_processes"
	gpuProcessMemory    = "trainwatch_gpu_process_memory_bytes"
	gpuProcessSMUtil    = "trainwatch_gpu_process_sm_utilization_percent" // NVIDIA
	gpuProcessUtil      = "trainwatch_gpu_process_utilization_percent"    // AMD
	gpuClockEventActive = "trainwatch_gpu_clock_event_active"
	gpuXIDEvents        = "trainwatch_gpu_xid_events_total"
	gpuNVLinkTx         = "trainwatch_gpu_nvlink_transmit_bytes_total"
	gpuNVLinkRx         = "trainwatch_gpu_nvlink_receive_bytes_total"

	// The AMD backend's vendor-neutral names; the dashboards put them
	// beside the DCGM names with `or`, so one panel shows both vendors.
	amdUtil        = "trainwatch_gpu_utilization_percent"
	amdMemUtil     = "trainwatch_gpu_memory_utilization_percent"
	amdMemUsed     = "trainwatch_gpu_memory_used_bytes"
	amdMemTotal    = "trainwatch_gpu_memory_total_bytes"
	amdTemperature = "trainwatch_gpu_temperature_celsius"
	amdPower       = "trainwatch_gpu_power_watts"
	amdPowerLimit  = "trainwatch_gpu_power_limit_watts"
	amdClock       = "trainwatch_gpu_clock_hertz"
)

// Training runs: the registry's tick series and the logged values' series
// (docs/training.md).
const (
	runInfo          = "trainwatch_run_info"
	runStatus        = "trainwatch_run_status"
	runStep          = "trainwatch_run_step"
	runProgress      = "trainwatch_run_progress_ratio"
	runETA           = "trainwatch_run_eta_seconds"
	runStepsPerSec   = "trainwatch_run_steps_per_second"
	trainingLoss     = "training_loss"
	validationLoss   = "validation_loss"
	learningRate     = "learning_rate"
	samplesPerSecond = "samples_per_second"
	tokensPerSecond  = "tokens_per_second"
)

// node_exporter's names (docs/metrics.md).
const (
	nodeCPUSeconds       = "node_cpu_seconds_total"
	nodeLoad1            = "node_load1"
	nodeLoad5            = "node_load5"
	nodeLoad15           = "node_load15"
	nodeBootTime         = "node_boot_time_seconds"
	nodeTime             = "node_time_seconds"
	nodeMemTotal         = "node_memory_MemTotal_bytes"
	nodeMemAvailable     = "node_memory_MemAvailable_bytes"
	nodeMemFree          = "node_memory_MemFree_bytes"
	nodeMemCached        = "node_memory_Cached_bytes"
	nodeMemBuffers       = "node_memory_Buffers_bytes"
	nodeSwapTotal        = "node_memory_SwapTotal_bytes"
	nodeSwapFree         = "node_memory_SwapFree_bytes"
	nodeDiskRead         = "node_disk_read_bytes_total"
	nodeDiskWritten      = "node_disk_written_bytes_total"
	nodeDiskReads        = "node_disk_reads_completed_total"
	nodeDiskWrites       = "node_disk_writes_completed_total"
	nodeDiskIOTime       = "node_disk_io_time_seconds_total"
	nodeFSAvail          = "node_filesystem_avail_bytes"
	nodeFSSize           = "node_filesystem_size_bytes"
	nodeNetRx            = "node_network_receive_bytes_total"
	nodeNetTx            = "node_network_transmit_bytes_total"
	nodeNetRxErrs        = "node_network_receive_errs_total"
	nodeNetTxErrs        = "node_network_transmit_errs_total"
	nodeNetRxDrop        = "node_network_receive_drop_total"
	nodeNetTxDrop        = "node_network_transmit_drop_total"
	nodeTCPStates        = "node_tcp_connection_states"
	nodePressureCPU      = "node_pressure_cpu_waiting_seconds_total"
	nodePressureMemory   = "node_pressure_memory_stalled_seconds_total"
	nodePressureIO       = "node_pressure_io_stalled_seconds_total"
	nodeHwmonTemp        = "node_hwmon_temp_celsius"
	processCPUPercent    = "trainwatch_process_cpu_percent"
	processResidentBytes = "trainwatch_process_resident_memory_bytes"
)

// The agent's own series.
const (
	tickDuration     = "trainwatch_tick_duration_seconds"
	collectorSuccess = "trainwatch_collector_success"
	agentAlerts      = "trainwatch_alerts"
	alertsSeries     = "ALERTS" // written by the rule manager (the agent's or a Prometheus')
)

// Units, as Grafana names them.
const (
	unitPercent     = "percent"     // 0–100
	unitPercentUnit = "percentunit" // 0–1
	unitBytes       = "bytes"       // IEC
	unitBytesPerSec = "binBps"      // IEC
	unitWatt        = "watt"
	unitCelsius     = "celsius"
	unitSeconds     = "s"
	unitOps         = "ops"
	unitIOPS        = "iops"
	unitHertz       = "hertz"
	unitKWh         = "kwatth"
	unitShort       = "short"
	unitNone        = "none"
	unitSci         = "sci"
	unitPPS         = "pps"
)
