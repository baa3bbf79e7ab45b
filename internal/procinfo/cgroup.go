package procinfo

import "strings"

// classify reads one cgroup path. Container scopes are matched anywhere
// in the path and the innermost wins (Docker in Docker, a pod's container
// under its pod slice); the pod and the Slurm job are matched below their
// parents (kubepods, slurm) only, so that a unit that happens to be named
// "pod..." or "job_..." elsewhere is not taken for one.
//
// Layouts recognised (systemd cgroup driver, then cgroupfs):
//
//	Docker       /system.slice/docker-<id>.scope            /docker/<id>
//	containerd   .../cri-containerd-<id>.scope              /kubepods/<qos>/pod<uid>/<id>
//	CRI-O        .../crio-<id>.scope                        /kubepods/<qos>/pod<uid>/crio-<id>
//	Podman       /machine.slice/libpod-<id>.scope[/container], rootless
//	             /user.slice/.../user@<uid>.service/user.slice/libpod-<id>.scope, /libpod_parent/libpod-<id>
//	Kubernetes   /kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid_with_underscores>.slice/...
//	             /kubepods/<qos>/pod<uid>/...   (Guaranteed pods have no <qos> level)
//	Slurm v1     /slurm/uid_<u>/job_<id>/step_<s>/task_<t>  (/slurm_<node>/... with multiple slurmd)
//	Slurm v2     /system.slice/slurmstepd.scope/job_<id>/step_<s>/user/task_<t>
//	             (/system.slice/<node>_slurmstepd.scope/... with multiple slurmd)
//
// The conmon monitors of CRI-O and Podman (crio-conmon-<id>.scope,
// libpod-conmon-<id>.scope) are not the container: they get its pod, not
// its id.
func classify(path string) Attribution {
	var a Attribution
	var inKube, inSlurm bool
	prev := ""
	for rest := path; rest != ""; {
		var seg string
		seg, rest, _ = strings.Cut(rest, "/")
		if seg == "" {
			continue
		}
		switch {
		case seg == "slurm" || strings.HasPrefix(seg, "slurm_") || strings.HasSuffix(seg, "slurmstepd.scope"):
			inSlurm = true
		case inSlurm && strings.HasPrefix(seg, "job_") && allDigits(seg[len("job_"):]):
			a.SlurmJob = seg[len("job_"):]
		case strings.HasPrefix(seg, "kubepods"):
			inKube = true
			if uid, ok := podFromSlice(seg); ok {
				a.Pod = uid
			}
		case inKube && strings.HasPrefix(seg, "pod") && validPodUID(seg[len("pod"):]):
			a.Pod = seg[len("pod"):]
		default:
			if id, rt, ok := containerFromScope(seg); ok {
				a.Container, a.Runtime = id, rt
			} else if prev == "docker" && isHexID(seg) {
				a.Container, a.Runtime = seg[:12], "docker"
			} else if inKube && a.Pod != "" && isHexID(seg) {
				// cgroupfs driver: the pod's containers are bare ids.
				// Docker (dockershim) and containerd look alike here.
				a.Container, a.Runtime = seg[:12], "containerd"
			}
		}
		prev = seg
	}
	return a
}

// scopePrefixes maps the prefixes of container scope units (and their
// cgroupfs directory names) to runtimes. Longer prefixes that are not the
// container come first.
var scopePrefixes = [...]struct{ prefix, runtime string }{
	{"crio-conmon-", ""},
	{"libpod-conmon-", ""},
	{"libpod-payload-", "podman"},
	{"docker-", "docker"},
	{"cri-containerd-", "containerd"},
	{"crio-", "cri-o"},
	{"libpod-", "podman"},
}

// containerFromScope recognises "<runtime>-<id>[.scope]" and returns the
// short id.
func containerFromScope(seg string) (id, runtime string, ok bool) {
	s := strings.TrimSuffix(seg, ".scope")
	for _, p := range scopePrefixes {
		if !strings.HasPrefix(s, p.prefix) {
			continue
		}
		if p.runtime == "" {
			return "", "", false
		}
		rest := s[len(p.prefix):]
		if !isHexID(rest) {
			return "", "", false
		}
		return rest[:12], p.runtime, true
	}
	return "", "", false
}

// podFromSlice returns the pod UID of a systemd pod slice,
// "kubepods[-burstable|-besteffort]-pod<uid>.slice", where the UID's dashes
// are written as underscores (systemd reserves '-' for nesting).
func podFromSlice(seg string) (string, bool) {
	s, ok := strings.CutSuffix(seg, ".slice")
	if !ok {
		return "", false
	}
	i := strings.LastIndex(s, "-pod")
	if i < 0 {
		return "", false
	}
	uid := strings.ReplaceAll(s[i+len("-pod"):], "_", "-")
	if !validPodUID(uid) {
		return "", false
	}
	return uid, true
}

// validPodUID accepts an API pod UID (a UUID) and a static pod's UID (the
// 32-hex-digit hash of its manifest): hex digits and dashes, at least 8.
func validPodUID(s string) bool {
	if len(s) < 8 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) && s[i] != '-' {
			return false
		}
	}
	return true
}

// isHexID reports whether s is a container id: lower-case hex, 12 to 64
// digits (runtimes use 64).
func isHexID(s string) bool {
	if len(s) < 12 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
