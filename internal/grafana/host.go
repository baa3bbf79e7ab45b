package grafana

import "fmt"

// hostDashboard is "trainwatch — host": the machine around the GPUs, the
// processes and the agent itself. Dashboard 1860 (Node Exporter Full) works
// on the same series for everything else.
func hostDashboard(opts Options) *Dashboard {
	l := &layout{}
	i := func(metric string, more ...string) string {
		return sel(metric, append([]string{onInstance}, more...)...)
	}
	cpus := fmt.Sprintf("count(%s)", i(nodeCPUSeconds, eq("mode", "idle")))

	l.row("Overview")
	l.add(4, 5, gauge("CPU busy", "Share of all CPUs' time not idle.", unitPercentUnit,
		lastValue(fmt.Sprintf("1 - avg(rate(%s[%s]))", i(nodeCPUSeconds, eq("mode", "idle")), rateInterval), "")).
		minMax(0, 1).steps(0.9, "orange"))
	l.add(4, 5, gauge("Memory used", "Memory in use (total less available), of the total.", unitPercentUnit,
		lastValue(fmt.Sprintf("1 - %s / %s", i(nodeMemAvailable), i(nodeMemTotal)), "")).minMax(0, 1).steps(0.85, "orange", 0.95, "red"))
	l.add(4, 5, stat("Swap used", "Swap in use; training data in swap is slow.", unitBytes,
		lastValue(fmt.Sprintf("%s - %s", i(nodeSwapTotal), i(nodeSwapFree)), "")).steps(1073741824, "orange"))
	l.add(4, 5, stat("Load per CPU", "1-minute load average divided by the number of CPUs.", unitNone,
		lastValue(fmt.Sprintf("%s / on () group_left () %s", i(nodeLoad1), cpus), "")).set("decimals", 2).steps(1, "orange"))
	l.add(4, 5, stat("Uptime", "Time since the machine booted.", unitSeconds,
		lastValue(fmt.Sprintf("%s - %s", i(nodeTime), i(nodeBootTime)), "")))
	l.add(4, 5, stat("Collectors failing", "Collectors of the agent that failed or were late in the last tick (see the Agent row).", unitNone,
		lastValue(fmt.Sprintf("count(%s == 0) or vector(0)", i(collectorSuccess)), "")).steps(1, "orange"))

	l.row("CPU and memory")
	l.add(12, 8, timeseries("CPU by mode", "CPU time by mode, as a share of all CPUs.", unitPercentUnit,
		series(cpuByMode(), "{{mode}}")).stacked().minMax(0, 1))
	l.add(12, 8, timeseries("CPU busy per core", "Share of each CPU's time not idle.", unitPercentUnit,
		series(fmt.Sprintf("1 - rate(%s[%s])", i(nodeCPUSeconds, eq("mode", "idle")), rateInterval), "CPU {{cpu}}")).minMax(0, 1))
	l.add(8, 8, timeseries("Load", "Load averages and the number of CPUs.", unitShort,
		series(i(nodeLoad1), "1 min"), series(i(nodeLoad5), "5 min"), series(i(nodeLoad15), "15 min"),
		series(cpus, "CPUs")).override("byName", "CPUs", "custom.lineStyle", map[string]any{"fill": "dash", "dash": []int{10, 10}}))
	l.add(8, 8, timeseries("Memory", "Memory in use, page cache, buffers and free memory.", unitBytes,
		series(fmt.Sprintf("%s - %s", i(nodeMemTotal), i(nodeMemAvailable)), "used"),
		series(i(nodeMemCached), "page cache"),
		series(i(nodeMemBuffers), "buffers"),
		series(i(nodeMemFree), "free")))
	l.add(8, 8, timeseries("Pressure (PSI)", "Share of time tasks waited for CPU, or stalled on memory or I/O (Linux pressure stall information).", unitPercentUnit,
		series(fmt.Sprintf("rate(%s[%s])", i(nodePressureCPU), rateInterval), "CPU waiting"),
		series(fmt.Sprintf("rate(%s[%s])", i(nodePressureMemory), rateInterval), "memory stalled"),
		series(fmt.Sprintf("rate(%s[%s])", i(nodePressureIO), rateInterval), "I/O stalled")))

	l.row("Disks and filesystems")
	l.add(8, 8, timeseries("Disk throughput", "Bytes read and written per second, per disk.", unitBytesPerSec,
		series(fmt.Sprintf("rate(%s[%s])", sel(nodeDiskRead, diskMatchers()...), rateInterval), "{{device}} read"),
		series(fmt.Sprintf("rate(%s[%s])", sel(nodeDiskWritten, diskMatchers()...), rateInterval), "{{device}} written")))
	l.add(8, 8, timeseries("Disk IOPS", "Reads and writes completed per second, per disk.", unitIOPS,
		series(fmt.Sprintf("rate(%s[%s])", sel(nodeDiskReads, diskMatchers()...), rateInterval), "{{device}} reads"),
		series(fmt.Sprintf("rate(%s[%s])", sel(nodeDiskWrites, diskMatchers()...), rateInterval), "{{device}} writes")))
	l.add(8, 8, timeseries("Disk busy", "Share of time each disk had I/O in flight.", unitPercentUnit,
		series(fmt.Sprintf("rate(%s[%s])", sel(nodeDiskIOTime, diskMatchers()...), rateInterval), "{{device}}")).minMax(0, 1))
	fsLabels := []string{"instance", "mountpoint", "device", "fstype"}
	fs := table("Filesystems", "Size, space available to unprivileged users, and the share used, per filesystem.",
		[]column{
			{name: "Size", unit: unitBytes, expr: keep(fsLabels, sel(nodeFSSize, fsMatchers()...))},
			{name: "Available", unit: unitBytes, expr: keep(fsLabels, sel(nodeFSAvail, fsMatchers()...))},
			{name: "Used", unit: unitPercentUnit, expr: keep(fsLabels, fsUsed())},
		}, nil, map[string]string{"mountpoint": "Mount point", "device": "Device", "fstype": "Type"}).
		order("mountpoint", "device", "fstype", "Value #A", "Value #B", "Value #C")
	fs.override("byName", "Used", "custom.cellOptions", map[string]any{"type": "gauge", "mode": "basic"}).
		override("byName", "Used", "min", 0).override("byName", "Used", "max", 1).
		override("byName", "Used", "thresholds", thresholds(0.8, "orange", 0.9, "red"))
	l.add(24, 7, fs)

	l.row("Network")
	l.add(12, 8, timeseries("Network throughput", "Bytes received and sent per second, per interface.", unitBytesPerSec,
		series(fmt.Sprintf("rate(%s[%s])", sel(nodeNetRx, netMatchers()...), rateInterval), "{{device}} received"),
		series(fmt.Sprintf("rate(%s[%s])", sel(nodeNetTx, netMatchers()...), rateInterval), "{{device}} sent")))
	l.add(12, 8, timeseries("Network errors and drops", "Packets per second received or sent with errors, or dropped, per interface.", unitPPS,
		series(fmt.Sprintf("rate(%s[%s])", sel(nodeNetRxErrs, netMatchers()...), rateInterval), "{{device}} receive errors"),
		series(fmt.Sprintf("rate(%s[%s])", sel(nodeNetTxErrs, netMatchers()...), rateInterval), "{{device}} send errors"),
		series(fmt.Sprintf("rate(%s[%s])", sel(nodeNetRxDrop, netMatchers()...), rateInterval), "{{device}} receive drops"),
		series(fmt.Sprintf("rate(%s[%s])", sel(nodeNetTxDrop, netMatchers()...), rateInterval), "{{device}} send drops")))
	l.add(12, 8, timeseries("TCP connections", "TCP sockets by state.", unitShort,
		series(i(nodeTCPStates), "{{state}}")))
	l.add(12, 8, timeseries("Temperatures", "Hardware sensors (hwmon). Empty on machines without sensors, such as most VMs.", unitCelsius,
		series(i(nodeHwmonTemp), "{{chip}} {{sensor}}")))

	l.row("Processes and agent")
	procLabels := []string{"instance", "pid", "command", "user"}
	procs := table("Top processes", "The processes the agent reports (the top ones by CPU, memory and I/O), by CPU.",
		[]column{
			{name: "CPU", unit: unitPercent, expr: keep(procLabels, i(processCPUPercent))},
			{name: "Resident memory", unit: unitBytes, expr: keep(procLabels, i(processResidentBytes))},
		}, nil, map[string]string{"pid": "PID", "command": "Command", "user": "User"})
	procs.Options["sortBy"] = []any{map[string]any{"displayName": "CPU", "desc": true}}
	procs.order("pid", "command", "user", "Value #A", "Value #B")
	l.add(12, 9, procs)
	coll := table("Collectors", "Each collector of the agent: whether its last tick succeeded. A failing collector's reason is in the agent's log and in `trainwatch summary`.",
		[]column{{name: "Status", expr: keep([]string{"instance", "collector"}, i(collectorSuccess))}},
		nil, map[string]string{"collector": "Collector"})
	coll.override("byName", "Status", "mappings", []any{map[string]any{"type": "value", "options": map[string]any{
		"0": map[string]any{"text": "failing", "color": "orange", "index": 0},
		"1": map[string]any{"text": "ok", "color": "green", "index": 1},
	}}}).override("byName", "Status", "custom.cellOptions", map[string]any{"type": "color-text"})
	coll.Options["sortBy"] = []any{map[string]any{"displayName": "Status", "desc": false}}
	l.add(12, 9, coll)

	vars := []Variable{datasourceVariable(opts), instanceVariable()}
	return newDashboard("trainwatch — host",
		"The host of a trainwatch agent: CPU, memory, pressure, disks, filesystems, network, temperatures, processes, and the agent's collectors.",
		l, vars)
}
