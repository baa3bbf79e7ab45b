package grafana

import "fmt"

// gpuDashboard is "trainwatch — GPU detail": one GPU, every figure the
// agent has for it.
func gpuDashboard(opts Options) *Dashboard {
	l := &layout{}
	g := func(metric string, more ...string) string {
		return sel(metric, append([]string{onInstance, onGPU}, more...)...)
	}
	or := func(dcgm, amd string) string { return g(dcgm) + " or " + g(amd) }

	l.row("GPU $gpu")
	l.add(4, 5, gauge("Utilisation", "Share of time a kernel ran on the GPU.", unitPercent,
		lastValue(or(dcgmGPUUtil, amdUtil), "")).minMax(0, 100).steps(80, "blue"))
	l.add(4, 5, gauge("Memory used", "Framebuffer (VRAM) memory in use, of the total.", unitPercent,
		lastValue(fmt.Sprintf("100 * %s / %s or 100 * %s / %s", g(dcgmFBUsed), g(dcgmFBTotal), g(amdMemUsed), g(amdMemTotal)), "")).
		minMax(0, 100).steps(90, "orange", 97, "red"))
	l.add(4, 5, stat("Temperature", "GPU core temperature (AMD: the hottest sensor).", unitCelsius,
		lastValue(fmt.Sprintf("%s or max without (sensor) (%s)", g(dcgmGPUTemp), g(amdTemperature)), "")).steps(80, "orange", 87, "red"))
	l.add(4, 5, stat("Power", "Power draw.", unitWatt, lastValue(or(dcgmPowerUsage, amdPower), "")))
	l.add(4, 5, stat("Energy (time range)", "Energy the GPU used over the dashboard's time range (DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION, NVIDIA only).", unitKWh,
		lastValue(fmt.Sprintf("increase(%s[%s]) / 3.6e9", g(dcgmEnergy), rangeVar), "")).set("decimals", 3))
	l.add(4, 5, stat("Processes", "Processes using the GPU.", unitNone, lastValue(g(gpuProcesses), "")))

	l.row("Activity")
	l.add(12, 8, timeseries("Utilisation", "GPU utilisation and memory-controller utilisation.", unitPercent,
		series(or(dcgmGPUUtil, amdUtil), "GPU"),
		series(or(dcgmMemCopyUtil, amdMemUtil), "memory controller")).minMax(0, 100))
	l.add(12, 8, timeseries("Engine activity", "Profiling metrics (Hopper and newer; NVML GPM): SM active and occupancy, tensor pipes, DRAM bandwidth. Tensor activity well under SM activity suggests work that misses the tensor cores.", unitPercentUnit,
		series(g(dcgmProfSMActive), "SM active"),
		series(g(dcgmProfSMOccupancy), "SM occupancy"),
		series(g(dcgmProfTensorActive), "tensor pipes active"),
		series(g(dcgmProfDRAMActive), "DRAM active")).minMax(0, 1))
	l.add(8, 8, timeseries("Memory", "Framebuffer (VRAM) memory used and total.", unitBytes,
		series(fmt.Sprintf("%s * %s or %s", g(dcgmFBUsed), mib, g(amdMemUsed)), "used"),
		series(fmt.Sprintf("%s * %s or %s", g(dcgmFBTotal), mib, g(amdMemTotal)), "total")))
	l.add(8, 8, timeseries("Temperature", "GPU and memory temperature, and the temperature at which the GPU slows down.", unitCelsius,
		series(fmt.Sprintf("%s or max without (sensor) (%s)", g(dcgmGPUTemp), g(amdTemperature, ne("sensor", "mem"))), "GPU"),
		series(g(dcgmMemoryTemp)+" or "+g(amdTemperature, eq("sensor", "mem")), "memory"),
		series(g(dcgmSlowdownTemp), "slowdown")).override("byName", "slowdown", "custom.lineStyle", map[string]any{"fill": "dash", "dash": []int{10, 10}}))
	l.add(8, 8, timeseries("Power", "Power draw and the limit the driver enforces.", unitWatt,
		series(or(dcgmPowerUsage, amdPower), "draw"),
		series(or(dcgmEnforcedLimit, amdPowerLimit), "limit")).override("byName", "limit", "custom.lineStyle", map[string]any{"fill": "dash", "dash": []int{10, 10}}))

	l.row("Clocks and throttling")
	l.add(8, 8, timeseries("Clocks", "SM and memory clocks, and the SM clock's maximum.", unitHertz,
		series(g(dcgmSMClock)+" * 1e6 or "+g(amdClock, eq("clock", "sm")), "SM"),
		series(g(dcgmMemClock)+" * 1e6 or "+g(amdClock, eq("clock", "memory")), "memory"),
		series(g(dcgmMaxSMClock)+" * 1e6", "SM maximum")))
	l.add(8, 8, timeseries("Clock-event (throttle) reasons", "1 while a reason holds the clocks down (trainwatch_gpu_clock_event_active).", unitNone,
		series(g(gpuClockEventActive), "{{reason}}")).custom("lineInterpolation", "stepAfter").minMax(0, 1))
	l.add(8, 8, timeseries("Time throttled", "Share of time the clocks were held down by the power cap and by temperature (DCGM violation counters).", unitPercentUnit,
		series(fmt.Sprintf("rate(%s[%s]) / 1e9", g(dcgmPowerViolation), rateInterval), "power"),
		series(fmt.Sprintf("rate(%s[%s]) / 1e9", g(dcgmThermalViolation), rateInterval), "thermal")).minMax(0, 1))

	l.row("Interconnect")
	l.add(12, 8, timeseries("PCIe throughput", "PCIe transmit and receive (NVML's 20 ms sample each tick).", unitBytesPerSec,
		series(g(dcgmPCIeTx)+" * 1024", "transmit"),
		series(g(dcgmPCIeRx)+" * 1024", "receive")))
	l.add(12, 8, timeseries("NVLink throughput", "NVLink data sent and received, all links.", unitBytesPerSec,
		series(fmt.Sprintf("rate(%s[%s])", g(gpuNVLinkTx), rateInterval), "transmit"),
		series(fmt.Sprintf("rate(%s[%s])", g(gpuNVLinkRx), rateInterval), "receive")))

	l.row("Errors")
	l.add(6, 5, stat("XID events (time range)", "XID events in the time range (trainwatch_gpu_xid_events_total).", unitNone,
		lastValue(fmt.Sprintf("sum(increase(%s[%s])) or vector(0)", g(gpuXIDEvents), rangeVar), "")).steps(1, "red"))
	l.add(6, 5, stat("Last XID", "The last XID error since the agent started (0: none), with its meaning.", unitNone,
		lastValue(g(dcgmXIDErrors), "{{err_msg}}")).steps(1, "red"))
	l.add(6, 5, stat("Uncorrectable ECC errors", "Double-bit (uncorrectable) ECC errors since the driver loaded.", unitNone,
		lastValue(g(dcgmECCDBEVolatile), "")).steps(1, "red"))
	l.add(6, 5, stat("Row remap pending", "1: memory rows wait to be remapped; reset the GPU when it is idle.", unitNone,
		lastValue(g(dcgmRemapPending), "")).steps(1, "orange").mappings("0", "no", "green", "1", "yes", "orange"))
	l.add(12, 8, timeseries("XID events", "XID events per XID code.", unitShort,
		series(fmt.Sprintf(`sum by (xid) (increase(%s[%s])) or label_replace(sum(0 * %s), "xid", "none", "", "")`, g(gpuXIDEvents), rateInterval, g(dcgmXIDErrors)), "XID {{xid}}")).
		custom("drawStyle", "bars").custom("fillOpacity", 80))
	l.add(12, 8, timeseries("PCIe replays", "PCIe retries per second; a steady rate points at a bad link or riser.", unitShort,
		series(fmt.Sprintf("rate(%s[%s])", g(dcgmPCIeReplay), rateInterval), "replays/s")))

	l.row("Processes")
	l.add(24, 8, gpuProcessTable("Processes on this GPU",
		"Processes holding memory on the GPU, with their user, container, pod, Slurm job and SM utilisation (AMD: engine utilisation).",
		onGPU, []string{"gpu"}))

	vars := []Variable{
		datasourceVariable(opts),
		instanceVariable(),
		queryVariable("gpu", "GPU", "The GPU (NVML or amdgpu index).",
			"label_values("+sel(gpuUp, onInstance)+", gpu)", false, sortNumerical),
	}
	return newDashboard("trainwatch — GPU detail",
		"One GPU of a trainwatch agent: utilisation and engine activity, memory, temperature, power, clocks and throttling, interconnect, errors and processes.",
		l, vars)
}
