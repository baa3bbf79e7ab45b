package metricsdoc

import (
	"fmt"
	"slices"
)

// static lists, by hand, the families no fixture can produce. Each entry
// says why; the live test (cmd/trainwatch TestMetricsDocMatchesDemoAgent)
// checks them against a running --demo agent, which emits both, and Gather
// checks tcpstat's against the live kernel where netlink answers.
func static() []Metric {
	return []Metric{
		// tcpstat dumps the kernel's sockets over netlink (sock_diag): there
		// is no file tree to fake it with.
		{Name: "node_tcp_connection_states", Type: "gauge", Labels: []string{"state"}, Source: "tcpstat",
			Compat: Compat("node_tcp_connection_states"), Help: "Number of connection states."},
		// The demo marker is a collector of package main (cmd/trainwatch),
		// which no other package can import.
		{Name: "trainwatch_demo", Type: "gauge", Labels: []string{"scenario"}, Source: srcDemo,
			Compat: Compat("trainwatch_demo"),
			Help:   "1 when this agent runs in demo mode: its GPU data is simulated (8 x NVIDIA H200 running a synthetic training job)."},
	}
}

// migLabels are the labels dcgm-exporter adds to every DCGM_FI_* series on
// a GPU with MIG enabled (empty on the whole GPU's series).
var migLabels = []string{"GPU_I_PROFILE", "GPU_I_ID"}

// applyOptionalLabels moves label names that appear only in some
// configurations out of Labels into OptionalLabels, and says when. A
// source that emits one family under two label sets without an
// explanation here is an error.
func applyOptionalLabels(ms []Metric) error {
	for i := range ms {
		m := &ms[i]
		if m.Source == srcNVML && (slices.Contains(m.Labels, migLabels[0]) || slices.Contains(m.OptionalLabels, migLabels[0])) {
			m.Labels = slices.DeleteFunc(m.Labels, func(l string) bool { return slices.Contains(migLabels, l) })
			m.OptionalLabels = slices.DeleteFunc(m.OptionalLabels, func(l string) bool { return slices.Contains(migLabels, l) })
			if len(m.OptionalLabels) > 0 {
				return fmt.Errorf("%s (%s): label variant %v besides MIG's; explain it in applyOptionalLabels", m.Name, m.Source, m.OptionalLabels)
			}
			m.OptionalLabels, m.OptionalWhen = append([]string(nil), migLabels...), "with MIG"
			continue
		}
		if len(m.OptionalLabels) > 0 {
			return fmt.Errorf("%s (%s) is emitted with labels %v and with %v; explain the variant in applyOptionalLabels", m.Name, m.Source, m.Labels, m.OptionalLabels)
		}
	}
	return nil
}

// patterns documents the families whose names come from the machine. Each
// must match a family the fixtures produce, of its type and labels.
func patterns() []Pattern {
	return []Pattern{
		{Glob: "node_memory_*", Type: "gauge", Source: "meminfo",
			What: "one per line of /proc/meminfo: node_memory_FIELD_bytes for sizes (kB × 1024), node_memory_FIELD for counts (HugePages_Total, ...); fields differ between kernels"},
		{Glob: "node_vmstat_*", Type: "untyped", Source: "vmstat",
			What: "one per /proc/vmstat field that node_exporter's default filter keeps (oom_kill, pgpg*, pswp*, pg*fault*)"},
		{Glob: "node_netstat_*", Type: "untyped", Source: "netstat",
			What: "one per /proc/net/{netstat,snmp,snmp6} field that node_exporter's default filter keeps, named node_netstat_PROTOCOL_FIELD"},
		{Glob: "node_sockstat_*", Type: "gauge", Source: "sockstat",
			What: "one per protocol and counter of /proc/net/sockstat and sockstat6, named node_sockstat_PROTOCOL_COUNTER"},
		{Glob: "node_hwmon_*", Type: "gauge", Labels: []string{"chip", "sensor"}, Source: "hwmon",
			What: "one per hwmon sensor type and attribute the chips have (temp, in, fan, curr, power, energy, humidity, pwm, ...), named node_hwmon_TYPE[_ATTRIBUTE][_UNIT]"},
		{Glob: "node_rapl_*_joules_total", Type: "counter", Labels: []string{"index", "path"}, Source: "rapl",
			What: "one per RAPL zone (package, dram, core, uncore, psys)"},
		{Glob: "node_power_supply_*", Type: "gauge", Labels: []string{"power_supply"}, Source: "powersupplyclass",
			What: "one per numeric property of /sys/class/power_supply/*"},
	}
}

// conditionals lists the documented families a source emits only under a
// condition. The live test does not require them; Gather checks that each
// names a family its source emits.
func conditionals() []Conditional {
	const noJobs = "a process of the process table uses a GPU (a --demo agent has none: its simulated GPU processes are not in the host's /proc)"
	const noRemote = "remote_write is configured (one series per remote)"
	const receiver = "alerting has a receiver or an Alertmanager (one series per receiver)"
	return []Conditional{
		{"DCGM_FI_DEV_APP_SM_CLOCK", srcNVML, "the driver reports application clocks (deprecated in NVML 13; the demo's H200 does not)"},
		{"DCGM_FI_DEV_APP_MEM_CLOCK", srcNVML, "the driver reports application clocks (deprecated in NVML 13; the demo's H200 does not)"},
		{"trainwatch_gpu_xid_events_total", srcNVML, "the driver reported an XID error since the agent started (the demo raises one about every 10 minutes)"},
		{"trainwatch_job_info", srcJobs, noJobs},
		{"trainwatch_job_processes", srcJobs, noJobs},
		{"trainwatch_job_ranks", srcJobs, noJobs},
		{"trainwatch_job_workers", srcJobs, noJobs},
		{"trainwatch_job_cpu_percent", srcJobs, noJobs},
		{"trainwatch_job_resident_memory_bytes", srcJobs, noJobs},
		{"trainwatch_job_read_bytes_per_second", srcJobs, noJobs},
		{"trainwatch_job_write_bytes_per_second", srcJobs, noJobs},
		{"trainwatch_job_gpu_memory_bytes", srcJobs, noJobs},
		{"trainwatch_job_gpus", srcJobs, noJobs},
		{"trainwatch_job_gpu_info", srcJobs, noJobs},
		{"trainwatch_job_start_time_seconds", srcJobs, noJobs},
		{"trainwatch_run_end_time_seconds", srcRuns, "a run ended in the last hour"},
		{"push_time_seconds", srcPush, "a group was pushed (labels: instance and the group's grouping key: job and any other label of the push's path)"},
		{"push_failure_time_seconds", srcPush, "a group was pushed (labels: instance and the group's grouping key: job and any other label of the push's path)"},
		{"trainwatch_push_requests_total", srcPush, "the push receiver got a request"},
		{"trainwatch_notifications_sent_total", srcAlerting, receiver},
		{"trainwatch_notifications_failed_total", srcAlerting, receiver},
		{"trainwatch_notifications_dropped_total", srcAlerting, receiver},
		{"trainwatch_remote_write_samples_total", srcRemoteWrite, noRemote},
		{"trainwatch_remote_write_enqueued_samples_total", srcRemoteWrite, noRemote},
		{"trainwatch_remote_write_failed_sends_total", srcRemoteWrite, noRemote},
		{"trainwatch_remote_write_pending_bytes", srcRemoteWrite, noRemote},
		{"trainwatch_remote_write_pending_samples", srcRemoteWrite, noRemote},
		{"trainwatch_remote_write_lag_seconds", srcRemoteWrite, noRemote},
		{"trainwatch_remote_write_last_send_timestamp_seconds", srcRemoteWrite, noRemote},
	}
}
