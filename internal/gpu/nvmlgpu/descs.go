//go:build cgo

package nvmlgpu

import "github.com/trainwatch/trainwatch/internal/collector"

// Label names. dcgm-exporter's GPU series carry gpu, UUID, pci_bus_id,
// device, modelName, (MIG: GPU_I_PROFILE, GPU_I_ID,) Hostname and the
// label-type field DCGM_FI_DRIVER_VERSION, in this order.
var (
	dcgmLabels    = []string{"gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname", "DCGM_FI_DRIVER_VERSION"}
	dcgmMIGLabels = []string{"gpu", "UUID", "pci_bus_id", "device", "modelName", "GPU_I_PROFILE", "GPU_I_ID", "Hostname", "DCGM_FI_DRIVER_VERSION"}
	upLabels      = []string{"gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname"}
	twLabels      = []string{"gpu", "UUID"}
	procLabels    = []string{"gpu", "UUID", "pid", "command", "user", "container", "pod", "namespace", "slurm_job"}
)

// descs holds every descriptor of the backend. The DCGM ones take the DCGM
// label set, with or without the MIG labels, chosen at discovery.
type descs struct {
	backendInfo *collector.Desc
	up          *collector.Desc

	// DCGM names.
	smClock, memClock, videoClock       *collector.Desc
	appSMClock, appMemClock             *collector.Desc
	maxSMClock, maxMemClock, maxVidClk  *collector.Desc
	gpuTemp, memTemp                    *collector.Desc
	slowdownTemp, shutdownTemp, maxTemp *collector.Desc
	power, energy                       *collector.Desc
	powerLimit, enforcedLimit           *collector.Desc
	pcieTx, pcieRx, pcieReplay          *collector.Desc
	pcieGen, pcieWidth                  *collector.Desc
	pcieMaxGen, pcieMaxWidth            *collector.Desc
	gpuUtil, memCopyUtil                *collector.Desc
	encUtil, decUtil                    *collector.Desc
	xidLast                             *collector.Desc
	fan, pstate, throttleReasons        *collector.Desc
	violation                           [6]*collector.Desc
	fbTotal, fbFree, fbUsed, fbReserved *collector.Desc
	eccSbeVol, eccDbeVol                *collector.Desc
	eccSbeAgg, eccDbeAgg                *collector.Desc
	retiredSbe, retiredDbe, retiredPend *collector.Desc
	remapUnc, remapCor                  *collector.Desc
	remapFailure, remapPending          *collector.Desc
	nvlinkFlit, nvlinkData              *collector.Desc
	nvlinkReplay, nvlinkRecovery        *collector.Desc
	nvlinkBandwidth                     *collector.Desc
	prof                                map[uint32]*collector.Desc // by GPM metric ID

	// trainwatch extras.
	xidEvents           *collector.Desc
	clockEventActive    *collector.Desc
	clockEventReasons   *collector.Desc
	persistence         *collector.Desc
	processes           *collector.Desc
	procMem             *collector.Desc
	procSM, procMemUtil *collector.Desc
	procEnc, procDec    *collector.Desc
	nvlinkTx, nvlinkRx  *collector.Desc
	nvlinkActive        *collector.Desc
}

// GPM metric IDs (nvml.GPM_METRIC_*), untyped so that they index maps of
// uint32.
const (
	gpmGraphicsUtil = 1
	gpmSMUtil       = 2
	gpmSMOccupancy  = 3
	gpmAnyTensor    = 5
	gpmDRAMBW       = 10
	gpmFP64         = 11
	gpmFP32         = 12
	gpmFP16         = 13
	gpmPCIeTx       = 20
	gpmPCIeRx       = 21
	gpmNVLinkRx     = 60
	gpmNVLinkTx     = 61
)

// gpmMetrics are the GPM metrics read each tick, in request order.
var gpmMetrics = []uint32{gpmGraphicsUtil, gpmSMUtil, gpmSMOccupancy, gpmAnyTensor, gpmDRAMBW,
	gpmFP64, gpmFP32, gpmFP16, gpmPCIeTx, gpmPCIeRx, gpmNVLinkTx, gpmNVLinkRx}

func newDescs(mig bool) *descs {
	l := dcgmLabels
	if mig {
		l = dcgmMIGLabels
	}
	g := func(name, help string) *collector.Desc { return collector.NewDesc(name, help, collector.Gauge, l...) }
	c := func(name, help string) *collector.Desc { return collector.NewDesc(name, help, collector.Counter, l...) }
	tw := func(name, help string, t collector.ValueType, extra ...string) *collector.Desc {
		return collector.NewDesc(name, help, t, append(append([]string{}, twLabels...), extra...)...)
	}
	proc := func(name, help string) *collector.Desc {
		return collector.NewDesc(name, help, collector.Gauge, procLabels...)
	}
	d := &descs{
		backendInfo: collector.NewDesc("trainwatch_gpu_backend_info",
			"Versions of the GPU backend's library and driver; always 1.", collector.Gauge,
			"backend", "driver_version", "nvml_version", "cuda_driver_version"),
		up: collector.NewDesc("trainwatch_gpu_up",
			"1 if the GPU answered this tick, 0 if it is lost (fallen off the bus, needs a reset) or did not answer in time.",
			collector.Gauge, upLabels...),

		smClock:      g("DCGM_FI_DEV_SM_CLOCK", "SM clock frequency (in MHz)."),
		memClock:     g("DCGM_FI_DEV_MEM_CLOCK", "Memory clock frequency (in MHz)."),
		videoClock:   g("DCGM_FI_DEV_VIDEO_CLOCK", "Video encoder/decoder clock frequency (in MHz)."),
		appSMClock:   g("DCGM_FI_DEV_APP_SM_CLOCK", "SM application clock (in MHz)."),
		appMemClock:  g("DCGM_FI_DEV_APP_MEM_CLOCK", "Memory application clock (in MHz)."),
		maxSMClock:   g("DCGM_FI_DEV_MAX_SM_CLOCK", "Maximum supported SM clock (in MHz)."),
		maxMemClock:  g("DCGM_FI_DEV_MAX_MEM_CLOCK", "Maximum supported memory clock (in MHz)."),
		maxVidClk:    g("DCGM_FI_DEV_MAX_VIDEO_CLOCK", "Maximum supported video encoder/decoder clock (in MHz)."),
		gpuTemp:      g("DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C)."),
		memTemp:      g("DCGM_FI_DEV_MEMORY_TEMP", "Memory temperature (in C)."),
		slowdownTemp: g("DCGM_FI_DEV_SLOWDOWN_TEMP", "Temperature at which the GPU slows down (in C)."),
		shutdownTemp: g("DCGM_FI_DEV_SHUTDOWN_TEMP", "Temperature at which the GPU shuts down (in C)."),
		maxTemp:      g("DCGM_FI_DEV_GPU_MAX_OP_TEMP", "Maximum operating temperature of the GPU (in C)."),
		power:        g("DCGM_FI_DEV_POWER_USAGE", "Power draw (in W)."),
		energy:       c("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "Total energy consumption since boot (in mJ)."),
		powerLimit:   g("DCGM_FI_DEV_POWER_MGMT_LIMIT", "Power management limit (in W)."),
		enforcedLimit: g("DCGM_FI_DEV_ENFORCED_POWER_LIMIT",
			"Power limit the driver enforces after all limiters (in W)."),
		pcieTx: c("DCGM_FI_DEV_PCIE_TX_THROUGHPUT",
			"PCIe transmit throughput over NVML's 20 ms window (in KB/s; typed counter as dcgm-exporter does)."),
		pcieRx: c("DCGM_FI_DEV_PCIE_RX_THROUGHPUT",
			"PCIe receive throughput over NVML's 20 ms window (in KB/s; typed counter as dcgm-exporter does)."),
		pcieReplay:   c("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "Total number of PCIe retries."),
		pcieGen:      g("DCGM_FI_DEV_PCIE_LINK_GEN", "Current PCIe link generation."),
		pcieWidth:    g("DCGM_FI_DEV_PCIE_LINK_WIDTH", "Current PCIe link width (lanes)."),
		pcieMaxGen:   g("DCGM_FI_DEV_PCIE_MAX_LINK_GEN", "Maximum PCIe link generation of the GPU and system."),
		pcieMaxWidth: g("DCGM_FI_DEV_PCIE_MAX_LINK_WIDTH", "Maximum PCIe link width (lanes) of the GPU and system."),
		gpuUtil:      g("DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %)."),
		memCopyUtil:  g("DCGM_FI_DEV_MEM_COPY_UTIL", "Memory utilization (in %)."),
		encUtil:      g("DCGM_FI_DEV_ENC_UTIL", "Encoder utilization (in %)."),
		decUtil:      g("DCGM_FI_DEV_DEC_UTIL", "Decoder utilization (in %)."),
		xidLast: collector.NewDesc("DCGM_FI_DEV_XID_ERRORS",
			"Value of the last XID error encountered (0: none since trainwatch started). trainwatch_gpu_xid_events_total counts them.",
			collector.Gauge, append(append([]string{}, l...), "err_code", "err_msg")...),
		fan:             g("DCGM_FI_DEV_FAN_SPEED", "Fan speed (in %)."),
		pstate:          g("DCGM_FI_DEV_PSTATE", "Performance state (P-state) 0-15, 0 the highest."),
		throttleReasons: g("DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", "Current clock-event (throttle) reasons, an NVML bitmask."),
		violation: [6]*collector.Desc{
			c("DCGM_FI_DEV_POWER_VIOLATION", "Throttling duration due to power constraints (in ns)."),
			c("DCGM_FI_DEV_THERMAL_VIOLATION", "Throttling duration due to thermal constraints (in ns)."),
			c("DCGM_FI_DEV_SYNC_BOOST_VIOLATION", "Throttling duration due to sync-boost constraints (in ns)."),
			c("DCGM_FI_DEV_BOARD_LIMIT_VIOLATION", "Throttling duration due to board limit constraints (in ns)."),
			c("DCGM_FI_DEV_LOW_UTIL_VIOLATION", "Throttling duration due to low utilization (in ns)."),
			c("DCGM_FI_DEV_RELIABILITY_VIOLATION", "Throttling duration due to reliability constraints (in ns)."),
		},
		fbTotal:      g("DCGM_FI_DEV_FB_TOTAL", "Framebuffer memory total (in MiB)."),
		fbFree:       g("DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (in MiB)."),
		fbUsed:       g("DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB)."),
		fbReserved:   g("DCGM_FI_DEV_FB_RESERVED", "Framebuffer memory reserved (in MiB)."),
		eccSbeVol:    c("DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", "Total number of single-bit volatile ECC errors."),
		eccDbeVol:    c("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "Total number of double-bit volatile ECC errors."),
		eccSbeAgg:    c("DCGM_FI_DEV_ECC_SBE_AGG_TOTAL", "Total number of single-bit persistent ECC errors."),
		eccDbeAgg:    c("DCGM_FI_DEV_ECC_DBE_AGG_TOTAL", "Total number of double-bit persistent ECC errors."),
		retiredSbe:   c("DCGM_FI_DEV_RETIRED_SBE", "Total number of retired pages due to single-bit errors."),
		retiredDbe:   c("DCGM_FI_DEV_RETIRED_DBE", "Total number of retired pages due to double-bit errors."),
		retiredPend:  c("DCGM_FI_DEV_RETIRED_PENDING", "Total number of pages pending retirement."),
		remapUnc:     c("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "Number of remapped rows for uncorrectable errors"),
		remapCor:     c("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "Number of remapped rows for correctable errors"),
		remapFailure: g("DCGM_FI_DEV_ROW_REMAP_FAILURE", "Whether remapping of rows has failed"),
		remapPending: g("DCGM_FI_DEV_ROW_REMAP_PENDING", "Whether remapping of rows is pending (a GPU reset applies it)"),
		nvlinkFlit:   c("DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL", "Total number of NVLink flow-control CRC errors."),
		nvlinkData:   c("DCGM_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL", "Total number of NVLink data CRC errors."),
		nvlinkReplay: c("DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL", "Total number of NVLink retries."),
		nvlinkRecovery: c("DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL",
			"Total number of NVLink recovery errors."),
		nvlinkBandwidth: c("DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL",
			"NVLink data throughput, transmit plus receive, all links, between the last two ticks (in MB/s, 1 MB = 2^20 bytes; typed counter as dcgm-exporter does: use trainwatch_gpu_nvlink_*_bytes_total for rate())."),
		prof: map[uint32]*collector.Desc{
			gpmGraphicsUtil: g("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "Ratio of time the graphics engine is active."),
			gpmSMUtil:       g("DCGM_FI_PROF_SM_ACTIVE", "The ratio of cycles an SM has at least 1 warp assigned."),
			gpmSMOccupancy:  g("DCGM_FI_PROF_SM_OCCUPANCY", "The ratio of number of warps resident on an SM."),
			gpmAnyTensor:    g("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "Ratio of cycles the tensor (HMMA) pipe is active."),
			gpmDRAMBW: g("DCGM_FI_PROF_DRAM_ACTIVE",
				"Ratio of cycles the device memory interface is active sending or receiving data."),
			gpmFP64: g("DCGM_FI_PROF_PIPE_FP64_ACTIVE", "Ratio of cycles the fp64 pipes are active."),
			gpmFP32: g("DCGM_FI_PROF_PIPE_FP32_ACTIVE", "Ratio of cycles the fp32 pipes are active."),
			gpmFP16: g("DCGM_FI_PROF_PIPE_FP16_ACTIVE", "Ratio of cycles the fp16 pipes are active."),
			gpmPCIeTx: g("DCGM_FI_PROF_PCIE_TX_BYTES",
				"The rate of data transmitted over the PCIe bus - including both protocol headers and data payloads - in bytes per second."),
			gpmPCIeRx: g("DCGM_FI_PROF_PCIE_RX_BYTES",
				"The rate of data received over the PCIe bus - including both protocol headers and data payloads - in bytes per second."),
			gpmNVLinkTx: g("DCGM_FI_PROF_NVLINK_TX_BYTES", "The rate of data transmitted over NVLink, in bytes per second."),
			gpmNVLinkRx: g("DCGM_FI_PROF_NVLINK_RX_BYTES", "The rate of data received over NVLink, in bytes per second."),
		},

		xidEvents: tw("trainwatch_gpu_xid_events_total",
			"XID errors reported by the driver (NVML XID events), every occurrence counted, by XID code.", collector.Counter, "xid"),
		clockEventActive: tw("trainwatch_gpu_clock_event_active",
			"1 if the clock-event (throttle) reason is active, 0 if not; one series per reason the GPU supports.", collector.Gauge, "reason"),
		clockEventReasons: tw("trainwatch_gpu_clock_event_reasons",
			"Current clock-event (throttle) reasons as NVML's raw bitmask.", collector.Gauge),
		persistence: tw("trainwatch_gpu_persistence_mode",
			"1 if driver persistence mode is on, 0 if off (off: every NVML client re-initialises the GPU).", collector.Gauge),
		processes: tw("trainwatch_gpu_processes",
			"Processes using the GPU (compute, graphics and MPS), before the top-N cut of the per-process series.", collector.Gauge),
		procMem:     proc("trainwatch_gpu_process_memory_bytes", "GPU memory used by the process."),
		procSM:      proc("trainwatch_gpu_process_sm_utilization_percent", "Share of time the process had a kernel on the GPU's SMs since the last tick (in %)."),
		procMemUtil: proc("trainwatch_gpu_process_memory_utilization_percent", "Share of time the process used the GPU's memory interface since the last tick (in %)."),
		procEnc:     proc("trainwatch_gpu_process_encoder_utilization_percent", "Process's encoder utilization since the last tick (in %)."),
		procDec:     proc("trainwatch_gpu_process_decoder_utilization_percent", "Process's decoder utilization since the last tick (in %)."),
		nvlinkTx: tw("trainwatch_gpu_nvlink_transmit_bytes_total",
			"NVLink data bytes transmitted, all links (NVML's KiB counter times 1024).", collector.Counter),
		nvlinkRx: tw("trainwatch_gpu_nvlink_receive_bytes_total",
			"NVLink data bytes received, all links (NVML's KiB counter times 1024).", collector.Counter),
		nvlinkActive: tw("trainwatch_gpu_nvlink_links_active",
			"NVLinks in the active state (a drop means a link went down).", collector.Gauge),
	}
	return d
}
