package procinfo

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/trainwatch/trainwatch/internal/testenv"

	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// FuzzParsers feeds any bytes to every /proc and /etc parser of the
// package (an exotic kernel or a damaged file must not crash the agent)
// and checks each result: a stat's comm and start time agree with a
// plain reading of the line, errors are located, ids are in range, and a
// cgroup's attribution is well formed.
func FuzzParsers(f *testing.F) {
	testenv.AddSeedFiles(f, "testdata/proc/*/*", "testdata/proc/stat")
	for _, s := range []string{
		"1 (a) b) S 0 1 1 0 -1 4194560 100 0 0 0 10 20 0 0 20 0 1 0 12345 1000 100 18446744073709551615\n",
		"Name:\tx\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\n",
		"Uid:\t4294967296\t0\t0\t0\n",
		"root:x:0:0:root:/root:/bin/bash\n# c\n+nis::::::\nalice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1000:1000::/:\n",
		"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod4b1f4f77_49e6_4e30_98db_e98055c8a54f.slice/cri-containerd-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope\n",
		"0::/system.slice/slurmstepd.scope/job_5551212/step_0/user/task_0\n",
		"12:pids:/docker/31cb02944da7a12196a193cf0e0f6c226d7c453a1db62e65ba98287593a2ee30\n1:name=systemd:/init.scope\n",
		"btime 1764350000\ncpu 1 2 3\n",
		"python\x00train.py\x00--lr\x000.1\x00\x00",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		const file = "/proc/1/x"
		checkErr := func(what string, err error) {
			t.Helper()
			var pe *hostfs.ParseError
			if !errors.As(err, &pe) || pe.File != file || pe.Msg == "" || pe.Line < 0 {
				t.Fatalf("%s: error %v (%T) is not a located ParseError", what, err, err)
			}
		}

		comm, start, err := parseStat(file, b)
		if err != nil {
			checkErr("stat", err)
		} else {
			line := bytes.TrimRight(b, "\n")
			open, closing := bytes.IndexByte(line, '('), bytes.LastIndexByte(line, ')')
			if !bytes.Equal(comm, line[open+1:closing]) {
				t.Fatalf("stat: comm %q", comm)
			}
			fields := strings.FieldsFunc(string(line[closing+1:]), func(r rune) bool { return r == ' ' || r == '\t' })
			if want, err := strconv.ParseUint(fields[19], 10, 64); err != nil || want != start {
				t.Fatalf("stat: start %d, field 22 is %q", start, fields[19])
			}
		}

		if uid, err := parseStatusUID(file, b); err != nil {
			checkErr("status", err)
		} else if uid < 0 || uid > 1<<32-1 {
			t.Fatalf("status: uid %d", uid)
		}

		cl := cmdline(b)
		if len(cl) > MaxCmdline || strings.IndexByte(cl, 0) >= 0 {
			t.Fatalf("cmdline: %d bytes, NUL in it: %q", len(cl), cl)
		}

		// btime: the first "btime " line, its number read plainly
		// ("btime 01" is 1: the oracle once wanted the file's digits).
		var wantBT uint64
		wantOK := false
		for _, line := range strings.Split(string(b), "\n") {
			if rest, found := strings.CutPrefix(line, "btime "); found {
				v, err := strconv.ParseUint(strings.TrimSpace(rest), 10, 64)
				wantBT, wantOK = v, err == nil
				break
			}
		}
		if bt, ok := parseBootTime(b); ok != wantOK || (ok && bt != wantBT) {
			t.Fatalf("btime %d, %v; the first btime line says %d, %v", bt, ok, wantBT, wantOK)
		}

		for uid, name := range parsePasswd(b) {
			if name == "" || strings.ContainsAny(name, ":\n") || uid < 0 || uid > 1<<32-1 {
				t.Fatalf("passwd: uid %d name %q", uid, name)
			}
		}

		a, err := ParseCgroup(file, b)
		if err != nil {
			checkErr("cgroup", err)
			if a != (Attribution{}) {
				t.Fatalf("cgroup: attribution %+v with an error", a)
			}
			return
		}
		if a.Path != "" && (a.Path[0] != '/' || !bytes.Contains(b, []byte(a.Path))) {
			t.Fatalf("cgroup: path %q", a.Path)
		}
		if a.Container != "" && (len(a.Container) != 12 || strings.Trim(a.Container, "0123456789abcdef") != "") {
			t.Fatalf("cgroup: container id %q", a.Container)
		}
		if (a.Container == "") != (a.Runtime == "") {
			t.Fatalf("cgroup: container %q runtime %q", a.Container, a.Runtime)
		}
		if a.SlurmJob != "" && strings.Trim(a.SlurmJob, "0123456789") != "" {
			t.Fatalf("cgroup: slurm job %q", a.SlurmJob)
		}
		if a.Pod != "" && strings.ContainsAny(a.Pod, "/_") {
			t.Fatalf("cgroup: pod %q", a.Pod)
		}
	})
}
