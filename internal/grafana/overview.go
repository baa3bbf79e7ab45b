package grafana

import (
	"fmt"
	"strings"

	"github.com/trainwatch/trainwatch/internal/jobs"
	"github.com/trainwatch/trainwatch/internal/runs"
)

// overviewDashboard is "trainwatch — ML training overview": the runs, the
// GPUs and who uses them, the host, and the alerts.
func overviewDashboard(opts Options) *Dashboard {
	l := &layout{}

	l.row("Summary")
	l.add(4, 4, stat("Active runs", "Training runs whose status is running.", unitNone,
		lastValue(fmt.Sprintf("count(%s == 1) or vector(0)", sel(runStatus, onInstance, eq("status", runs.StatusRunning))), "")))
	l.add(4, 4, stat("GPUs answering", "GPUs that answered the agent's last tick.", unitNone,
		lastValue(fmt.Sprintf("sum(%s)", sel(gpuUp, onInstance)), "")))
	l.add(4, 4, stat("GPUs not answering", "GPUs that are lost (fallen off the bus, need a reset) or did not answer in time.", unitNone,
		lastValue(fmt.Sprintf("count(%s == 0) or vector(0)", sel(gpuUp, onInstance)), "")).steps(1, "red"))
	l.add(4, 4, stat("Mean GPU utilisation", "Mean utilisation of the selected GPUs.", unitPercent,
		lastValue(fmt.Sprintf("avg(%s)", gpuMetric(dcgmGPUUtil, amdUtil, onInstance, onGPUs)), "")).minMax(0, 100))
	l.add(4, 4, stat("GPU power", "Power drawn by the selected GPUs together.", unitWatt,
		lastValue(fmt.Sprintf("sum(%s)", gpuMetric(dcgmPowerUsage, amdPower, onInstance, onGPUs)), "")))
	l.add(4, 4, stat("Alerts firing", "Alerts firing for this instance (the ALERTS series of the agent's or Prometheus' rules).", unitNone,
		lastValue(fmt.Sprintf("count(%s) or vector(0)", sel(alertsSeries, onInstance, eq("alertstate", "firing"))), "")).steps(1, "red"))

	overviewRuns(l)
	overviewGPUs(l)
	overviewHost(l)

	l.row("Alerts")
	l.add(24, 7, table("Alerts firing and pending",
		"Every alert of this instance, firing or pending (waiting out its 'for' duration), with its labels.",
		[]column{{expr: sel(alertsSeries, onInstance)}},
		[]string{"UUID", "pci_bus_id", "DCGM_FI_DRIVER_VERSION", "Hostname", "modelName"},
		map[string]string{"alertname": "Alert", "alertstate": "State", "severity": "Severity"}).
		order("alertname", "alertstate", "severity"))
	l.add(24, 6, timeseries("Alerts firing over time", "How many alerts of each name fired.", unitNone,
		series(fmt.Sprintf("count by (alertname, severity) (%s)", sel(alertsSeries, onInstance, eq("alertstate", "firing"))),
			"{{alertname}} ({{severity}})")).custom("drawStyle", "bars").custom("fillOpacity", 80))

	vars := []Variable{
		datasourceVariable(opts),
		instanceVariable(),
		queryVariable("gpu", "GPU", "GPUs (NVML or amdgpu index) shown in the GPU panels.",
			"label_values("+sel(gpuUp, onInstance)+", gpu)", true, sortNumerical),
		queryVariable("run", "Run", "Training runs shown in the run panels.",
			"label_values("+sel(runInfo, onInstance)+", run)", true, sortAlphabetical),
	}
	return newDashboard("trainwatch — ML training overview",
		"Training runs (loss, learning rate, throughput, progress), the GPUs and which processes and jobs use them, the host, and the alerts of one trainwatch agent.",
		l, vars)
}

// gpuMetric selects an NVIDIA (dcgm-exporter) metric or, where the machine
// has AMD GPUs, its vendor-neutral counterpart.
func gpuMetric(dcgm, amd string, matchers ...string) string {
	return sel(dcgm, matchers...) + " or " + sel(amd, matchers...)
}

// runColumn is one numeric column of the runs table: expr's value per run,
// with the run's name and status (from trainwatch_run_info) as labels, so
// that every column has the same labels and the table merges them.
func runColumn(expr string) string {
	return fmt.Sprintf("max by (instance, run, name, status) (%s * on (instance, run) group_left (name, status) %s)",
		expr, sel(runInfo, onInstance, onRuns))
}

func overviewRuns(l *layout) {
	l.row("Training runs")
	last := func(metric string) string {
		return fmt.Sprintf("last_over_time(%s[%s])", sel(metric, onInstance, onRuns), rangeVar)
	}
	runsTable := table("Runs",
		"Runs that are running or ended in the last hour: step, progress, step rate, time to the last step, and the last logged loss, validation loss and learning rate.",
		[]column{
			{name: "", expr: fmt.Sprintf("max by (instance, run, name, status) (%s)", sel(runInfo, onInstance, onRuns))},
			{name: "Step", unit: unitNone, expr: runColumn(sel(runStep, onInstance, onRuns))},
			{name: "Progress", unit: unitPercentUnit, expr: runColumn(sel(runProgress, onInstance, onRuns))},
			{name: "Steps/s", unit: unitOps, expr: runColumn(sel(runStepsPerSec, onInstance, onRuns))},
			{name: "Time to finish", unit: unitSeconds, expr: runColumn(sel(runETA, onInstance, onRuns))},
			{name: "Loss", unit: unitNone, expr: runColumn(last(trainingLoss))},
			{name: "Validation loss", unit: unitNone, expr: runColumn(last(validationLoss))},
			{name: "Learning rate", unit: unitSci, expr: runColumn(last(learningRate))},
		}, nil, map[string]string{"run": "Run", "name": "Name", "status": "Status"})
	runsTable.override("byName", "Progress", "custom.cellOptions", map[string]any{"type": "gauge", "mode": "basic"}).
		override("byName", "Progress", "min", 0).override("byName", "Progress", "max", 1).
		order("run", "name", "status", "Value #B", "Value #C", "Value #D", "Value #E", "Value #F", "Value #G", "Value #H")
	l.add(24, 7, runsTable)

	l.add(12, 8, timeseries("Training loss", "training_loss of each run, at the time it was logged.", unitNone,
		series(sel(trainingLoss, onInstance, onRuns), "{{run}}")))
	l.add(12, 8, timeseries("Validation loss", "validation_loss of each run (logged less often: points joined).", unitNone,
		series(sel(validationLoss, onInstance, onRuns), "{{run}}")).custom("showPoints", "always").custom("spanNulls", true))
	l.add(8, 8, timeseries("Learning rate", "learning_rate of each run.", unitSci,
		series(sel(learningRate, onInstance, onRuns), "{{run}}")))
	l.add(8, 8, timeseries("Throughput", "Samples per second (left axis) and tokens per second (right axis) the runs logged.", unitShort,
		series(sel(samplesPerSecond, onInstance, onRuns), "{{run}} samples/s"),
		series(sel(tokensPerSecond, onInstance, onRuns), "{{run}} tokens/s")).
		override("byRegexp", ".*tokens/s", "custom.axisPlacement", "right"))
	l.add(8, 8, timeseries("Steps per second", "Each run's step rate over its recent steps.", unitOps,
		series(sel(runStepsPerSec, onInstance, onRuns), "{{run}}")))
	l.add(12, 6, bargauge("Progress", "step / total_steps (or epoch / total_epochs) of runs that gave a total.", unitPercentUnit,
		lastValue(sel(runProgress, onInstance, onRuns), "{{run}}")).minMax(0, 1).set("color", map[string]any{"mode": "continuous-BlPu"}))
	l.add(12, 6, stat("Time to finish", "Time to the run's last step at its current step rate.", unitSeconds,
		lastValue(sel(runETA, onInstance, onRuns), "{{run}}")).set("color", map[string]any{"mode": "fixed", "fixedColor": "blue"}))
}

func overviewGPUs(l *layout) {
	l.row("GPUs")
	detail := func(p *Panel) *Panel { return p.link("GPU ${__field.labels.gpu} in detail", gpuDetailURL()) }
	l.add(12, 8, detail(timeseries("GPU utilisation", "Share of time a kernel ran on the GPU (DCGM_FI_DEV_GPU_UTIL; amdgpu gpu_busy_percent).", unitPercent,
		series(gpuMetric(dcgmGPUUtil, amdUtil, onInstance, onGPUs), "GPU {{gpu}}")).minMax(0, 100)))
	l.add(12, 8, detail(timeseries("GPU memory used", "Framebuffer (VRAM) memory in use.", unitBytes,
		series(fmt.Sprintf("%s * %s or %s", sel(dcgmFBUsed, onInstance, onGPUs), mib, sel(amdMemUsed, onInstance, onGPUs)), "GPU {{gpu}}"))))
	l.add(8, 8, detail(timeseries("GPU temperature", "GPU core temperature (AMD: the hottest of edge and junction).", unitCelsius,
		series(fmt.Sprintf("%s or max without (sensor) (%s)", sel(dcgmGPUTemp, onInstance, onGPUs), sel(amdTemperature, onInstance, onGPUs, ne("sensor", "mem"))), "GPU {{gpu}}"))))
	l.add(8, 8, detail(timeseries("GPU power", "Power draw.", unitWatt,
		series(gpuMetric(dcgmPowerUsage, amdPower, onInstance, onGPUs), "GPU {{gpu}}"))))
	l.add(8, 8, detail(timeseries("SM clock", "Graphics/compute (SM) clock.", unitHertz,
		series(fmt.Sprintf("%s * 1e6 or %s", sel(dcgmSMClock, onInstance, onGPUs), sel(amdClock, onInstance, onGPUs, eq("clock", "sm"))), "GPU {{gpu}}"))))
	l.add(12, 8, timeseries("Clock-event (throttle) reasons", "How many of the selected GPUs have each clock-event reason active. gpu_idle on idle GPUs is normal; sw_power_cap, hw_slowdown and the thermal reasons cost speed.", unitShort,
		series(fmt.Sprintf("sum by (reason) (%s)", sel(gpuClockEventActive, onInstance, onGPUs)), "{{reason}}")).custom("drawStyle", "line").custom("lineInterpolation", "stepAfter"))
	l.add(12, 8, detail(timeseries("XID errors", "XID events per GPU (trainwatch_gpu_xid_events_total; 0 for GPUs without any). XIDs 48, 63, 64, 74, 79, 94, 95 and 119 are hardware faults.", unitShort,
		series(fmt.Sprintf("sum by (gpu) (increase(%s[%s])) or sum by (gpu) (0 * %s)",
			sel(gpuXIDEvents, onInstance, onGPUs), rateInterval, sel(dcgmXIDErrors, onInstance, onGPUs)), "GPU {{gpu}}")).
		custom("drawStyle", "bars").custom("fillOpacity", 80)))

	l.add(12, 8, gpuProcessTable("GPU processes",
		"Which process holds memory on which GPU, with its user, container, pod and Slurm job, and its SM utilisation.",
		onGPUs, nil))

	jd := jobs.NewDescs()
	l.add(12, 8, table("Training jobs and their GPUs",
		"Which training job (process tree: launcher, ranks, workers) uses which GPU. The job id is the exported_job label (a job label would clash with Prometheus' own).",
		[]column{{expr: fmt.Sprintf("%s * on (instance, exported_job) group_left (name, launcher, user, container, pod, slurm_job) %s",
			sel(jd.GPUInfo.Name, onInstance, onGPUs), sel(jd.Info.Name, onInstance))}},
		[]string{"UUID", "namespace", "root_pid"},
		map[string]string{"exported_job": "Job", "name": "Name", "launcher": "Launcher", "gpu": "GPU", "user": "User",
			"container": "Container", "pod": "Pod", "slurm_job": "Slurm job"}).
		order("exported_job", "name", "launcher", "gpu", "user", "container", "pod", "slurm_job"))
}

// fsMatchers leave out pseudo and read-only image filesystems.
func fsMatchers() []string {
	return []string{onInstance, nre("fstype", strings.Join([]string{"tmpfs", "devtmpfs", "overlay", "squashfs", "ramfs", "nsfs", "fuse.lxcfs", "autofs"}, "|"))}
}

// diskMatchers leave out RAM disks, loop and floppy devices.
func diskMatchers() []string {
	return []string{onInstance, nre("device", "(ram|loop|fd|sr)[0-9]+")}
}

// netMatchers leave out the loopback interface.
func netMatchers() []string { return []string{onInstance, ne("device", "lo")} }

// cpuByMode is the CPU time per mode, as a share of all CPUs.
func cpuByMode() string {
	return fmt.Sprintf("sum by (mode) (rate(%s[%s])) / on () group_left () count(%s)",
		sel(nodeCPUSeconds, onInstance, ne("mode", "idle")), rateInterval, sel(nodeCPUSeconds, onInstance, eq("mode", "idle")))
}

func overviewHost(l *layout) {
	l.row("Host")
	l.add(8, 8, timeseries("CPU", "CPU time by mode, as a share of all CPUs.", unitPercentUnit,
		series(cpuByMode(), "{{mode}}")).stacked().minMax(0, 1))
	l.add(8, 8, timeseries("Memory", "Memory in use (total less available) and the total.", unitBytes,
		series(fmt.Sprintf("%s - %s", sel(nodeMemTotal, onInstance), sel(nodeMemAvailable, onInstance)), "used"),
		series(sel(nodeMemTotal, onInstance), "total")))
	l.add(8, 8, timeseries("Disk I/O", "Bytes read and written per second, per disk.", unitBytesPerSec,
		series(fmt.Sprintf("rate(%s[%s])", sel(nodeDiskRead, diskMatchers()...), rateInterval), "{{device}} read"),
		series(fmt.Sprintf("rate(%s[%s])", sel(nodeDiskWritten, diskMatchers()...), rateInterval), "{{device}} written")))
	l.add(12, 8, bargauge("Filesystem space used", "Share of each filesystem in use (space an unprivileged user can no longer take).", unitPercentUnit,
		lastValue(fsUsed(), "{{mountpoint}}")).minMax(0, 1).steps(0.8, "orange", 0.9, "red"))
	l.add(12, 8, timeseries("Network", "Bytes received and sent per second, per interface.", unitBytesPerSec,
		series(fmt.Sprintf("rate(%s[%s])", sel(nodeNetRx, netMatchers()...), rateInterval), "{{device}} received"),
		series(fmt.Sprintf("rate(%s[%s])", sel(nodeNetTx, netMatchers()...), rateInterval), "{{device}} sent")))
}

// fsUsed is each filesystem's used share.
func fsUsed() string {
	return fmt.Sprintf("1 - %s / %s", sel(nodeFSAvail, fsMatchers()...), sel(nodeFSSize, fsMatchers()...))
}

// gpuProcessLabels are the labels of the per-process GPU series the
// process tables show.
func gpuProcessLabels() []string {
	return []string{"instance", "gpu", "pid", "command", "user", "container", "pod", "slurm_job"}
}

// gpuProcessTable lists the processes on the GPUs gpuMatcher selects, by
// GPU memory, with their SM utilisation (NVIDIA) or engine utilisation
// (AMD).
func gpuProcessTable(title, desc, gpuMatcher string, exclude []string) *Panel {
	ls := gpuProcessLabels()
	p := table(title, desc,
		[]column{
			{name: "GPU memory", unit: unitBytes, expr: keep(ls, sel(gpuProcessMemory, onInstance, gpuMatcher))},
			{name: "Utilisation", unit: unitPercent, expr: keep(ls, fmt.Sprintf("%s or %s",
				sel(gpuProcessSMUtil, onInstance, gpuMatcher), sel(gpuProcessUtil, onInstance, gpuMatcher)))},
		}, exclude, map[string]string{"gpu": "GPU", "pid": "PID", "command": "Command", "user": "User",
			"container": "Container", "pod": "Pod", "slurm_job": "Slurm job"})
	p.Options["sortBy"] = []any{map[string]any{"displayName": "GPU memory", "desc": true}}
	return p.order("gpu", "pid", "command", "user", "container", "pod", "slurm_job", "Value #A", "Value #B")
}
