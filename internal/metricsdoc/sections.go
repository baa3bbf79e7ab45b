package metricsdoc

// section is one heading of the generated reference: the sources it lists,
// in order.
type section struct {
	title   string
	sources []string
}

// Source names that are not collector names.
const (
	srcNVML        = "gpu (NVML)"
	srcAMD         = "amdgpu"
	srcProcess     = "process"
	srcJobs        = "jobs"
	srcRuns        = "runs"
	srcPush        = "push"
	srcRunner      = "runner"
	srcSelf        = "self"
	srcTSDB        = "tsdb"
	srcAlerting    = "alerting"
	srcRemoteWrite = "remote_write"
	srcDemo        = "demo"
	srcHTTP        = "http"
)

// sections orders the reference. Every source must be in one; Gather
// fails on a source that is not (a new host collector, say), so that the
// page never drops a family silently.
var sections = []section{
	{"Host: CPU", []string{"cpu", "cpufreq", "loadavg", "stat", "pressure", "schedstat", "interrupts"}},
	{"Host: system", []string{"uname", "os", "time", "timex", "entropy", "filefd", "processes", "kernel_hung"}},
	{"Host: memory", []string{"meminfo", "vmstat"}},
	{"Host: disks and filesystems", []string{"diskstats", "filesystem"}},
	{"Host: network", []string{"netdev", "netclass", "netstat", "sockstat", "tcpstat", "softnet", "arp", "conntrack", "udp_queues"}},
	{"Host: sensors and power", []string{"hwmon", "thermal_zone", "powersupplyclass", "rapl"}},
	{"NVIDIA GPUs", []string{srcNVML}},
	{"AMD GPUs", []string{srcAMD}},
	{"Processes", []string{srcProcess}},
	{"Training jobs", []string{srcJobs}},
	{"Training runs", []string{srcRuns}},
	{"Push receiver", []string{srcPush}},
	{"Agent self-metrics", []string{srcRunner, srcSelf, srcHTTP, srcTSDB, srcAlerting, srcRemoteWrite, srcDemo}},
}

// unknownRank sorts sources without a section last.
const unknownRank = 1 << 20

// sourceRank is the position of a source in the reference, unknownRank
// for a source without a section.
func sourceRank(source string) int {
	i := 0
	for _, s := range sections {
		for _, n := range s.sources {
			if n == source {
				return i
			}
			i++
		}
	}
	return unknownRank
}

// sectionOf returns the title of the section listing source.
func sectionOf(source string) string {
	for _, s := range sections {
		for _, n := range s.sources {
			if n == source {
				return s.title
			}
		}
	}
	return ""
}
