package process

import (
	"bytes"
	"math"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/testenv"

	"gopkg.in/yaml.v3"
)

// slowTemplate matches name templates that range over a number: they may
// loop for as long as the number says, which the fuzzer would take for a
// hang. (The configuration is the administrator's, not outside input.)
var slowTemplate = regexp.MustCompile(`range[^}]*[0-9]`)

// FuzzGroupsFile checks parseGroupsFile on any file: a refusal names the
// file, and accepted matchers write out as YAML that reads back to the
// same matchers, and match a process without failing on the data the
// start-up check used.
func FuzzGroupsFile(f *testing.F) {
	b, err := os.ReadFile("testdata/groups.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b, "python3", "/usr/bin/python3 train.py --lr 0.1")
	for _, s := range []string{
		"",
		"process_names: []\n",
		"process_names:\n  - name: x\n",
		"process_names:\n  - cmdline: ['(x']\n",
		"process_names:\n  - name: '{{.Comm'\n    comm: [a]\n",
		"process_names:\n  - name: '{{.Exe}}'\n    comm: [a]\n",
		"process_names:\n  - name: '{{.Comm}}|{{.ExeBase}}|{{.ExeFull}}|{{.PID}}|{{.StartTime.Unix}}|{{range .Cgroups}}{{.}}{{end}}'\n    exe: [/usr/bin/python3, python3]\n",
		"process_names:\n  - name: '{{index .Cgroups 0}}'\n    cmdline: ['.+']\n",
		"process_names:\n  - name: '{{.Matches.script}}-{{.Username}}'\n    cmdline: ['(?P<script>[^ /]+)\\.py', '--']\n",
		"process_names:\n  - comm: [sshd]\n    unknown: 1\n",
	} {
		f.Add([]byte(s), "python3", "/usr/bin/python3 train.py --lr 0.1")
	}
	f.Fuzz(func(t *testing.T, data []byte, comm, cmdline string) {
		if slowTemplate.Match(data) {
			return
		}
		const path = "/etc/groups.yaml"
		ms, err := parseGroupsFile(path, data)
		if err != nil {
			if ms != nil || !strings.Contains(err.Error(), path) {
				t.Fatalf("matchers %v with error %q", ms, err)
			}
			return
		}
		out, err := yaml.Marshal(groupsFile{ProcessNames: ms})
		if err != nil {
			t.Fatal(err)
		}
		back, err := parseGroupsFile(path, out)
		if err != nil {
			t.Fatalf("written out, the matchers are refused: %v\n%s", err, out)
		}
		if !sameMatchers(ms, back) {
			t.Fatalf("round trip:\n%+v\n%+v\n%s", ms, back, out)
		}
		cms, err := compileMatchers(ms)
		if err != nil {
			t.Fatal(err)
		}
		p := &Proc{PID: 42, Comm: comm, Cmdline: cmdline, Exe: strings.SplitN(cmdline, " ", 2)[0], StartTime: time.Unix(1764350000, 0)}
		var buf strings.Builder
		for _, m := range cms {
			if _, _, err := m.match(p, &buf); err != nil && err.Error() == "" {
				t.Fatal("empty error")
			}
		}
	})
}

// sameMatchers compares matchers, an empty list equal to none.
func sameMatchers(a, b []Matcher) bool {
	norm := func(ms []Matcher) []Matcher {
		out := make([]Matcher, len(ms))
		for i, m := range ms {
			for _, l := range []*[]string{&m.Comm, &m.Exe, &m.Cmdline} {
				if len(*l) == 0 {
					*l = nil
				}
			}
			out[i] = m
		}
		return out
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

// refStat is a plain reading of /proc/PID/stat: the fields after the last
// ')' split on spaces and newlines, numbered from 3 (state).
func refStat(b []byte) (f statFields, ok bool) {
	open, closing := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open {
		return f, false
	}
	fs := strings.FieldsFunc(string(b[closing+1:]), func(r rune) bool { return r == ' ' || r == '\n' })
	if len(fs) < 22 || len(fs[0]) != 1 {
		return f, false
	}
	u := func(i int) uint64 {
		v, err := strconv.ParseUint(fs[i], 10, 64)
		if err != nil {
			ok = false
		}
		return v
	}
	ok = true
	f = statFields{
		comm: b[open+1 : closing], state: fs[0][0], ppid: int(u(1)), flags: u(6), minflt: u(7), majflt: u(9),
		utime: u(11), stime: u(12), threads: u(17), start: u(19), vsize: u(20), rss: u(21),
	}
	return f, ok
}

// FuzzProcFiles feeds any bytes to the scanner's /proc/PID parsers:
// parseStat, parseStatus and parseIO agree with a plain reading of the
// file (strconv, line by line), and parseLimitsNoFile returns only a
// number that is in the file.
func FuzzProcFiles(f *testing.F) {
	testenv.AddSeedFiles(f, "testdata/proc/*/*")
	f.Add([]byte("1 (a) b) S 0 1 1 0 -1 4194560 100 0 0 0 10 20 0 0 20 0 1 0 12345 1000 100 18446744073709551615\n"))
	f.Add([]byte("Max open files            1024                 4096                 files\n"))
	f.Add([]byte("read_bytes: 1\nwrite_bytes:\t2\nread_bytes: x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var got statFields
		ok := parseStat(b, &got)
		want, wok := refStat(b)
		if ok != wok {
			t.Fatalf("parseStat ok %v, plain reading ok %v", ok, wok)
		}
		if ok && !reflect.DeepEqual(got, want) {
			t.Fatalf("parseStat\n%+v\nplain reading\n%+v", got, want)
		}

		var p Proc
		sok := parseStatus(b, &p)
		ws := refStatus(b)
		if sok != ws.ok {
			t.Fatalf("parseStatus ok %v, plain reading ok %v", sok, ws.ok)
		}
		if sok && (p.SwapBytes != ws.swap || p.VoluntaryCtxSwitches != ws.vol || p.NonvoluntaryCtxSwitches != ws.nonvol) {
			t.Fatalf("status: swap %d, ctxt %d/%d; plain reading %d, %d/%d",
				p.SwapBytes, p.VoluntaryCtxSwitches, p.NonvoluntaryCtxSwitches, ws.swap, ws.vol, ws.nonvol)
		}
		var q Proc
		iok := parseIO(b, &q)
		rd, wr, wantIO := refIO(b)
		if iok != wantIO || (iok && (q.ReadBytes != rd || q.WriteBytes != wr)) {
			t.Fatalf("parseIO %v %d/%d, plain reading %v %d/%d", iok, q.ReadBytes, q.WriteBytes, wantIO, rd, wr)
		}
		if n := parseLimitsNoFile(b); n < 0 || n > 1<<31 || (n > 0 && !bytes.Contains(b, []byte(strconv.Itoa(n)))) {
			t.Fatalf("limits: %d", n)
		}
	})
}

// keyValue reads the unsigned number after the prefix of a "Key:  123 kB"
// line plainly: blanks, then digits (strconv).
func keyValue(line, prefix string) (v uint64, isKey, ok bool) {
	rest, isKey := strings.CutPrefix(line, prefix)
	if !isKey {
		return 0, false, false
	}
	rest = strings.TrimLeft(rest, " \t")
	end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(rest)
	}
	v, err := strconv.ParseUint(rest[:end], 10, 64)
	return v, true, err == nil
}

// statusReading is what a plain reading of a /proc/PID/status finds.
type statusReading struct {
	swap, vol, nonvol uint64
	ok                bool
}

// refStatus reads VmSwap (kB, as bytes) and the context switch counts of a
// status file line by line; the last line of a key counts, and any line of
// a key that does not parse (or swap bytes past a uint64) fails the file.
func refStatus(b []byte) statusReading {
	r := statusReading{ok: true}
	for _, line := range strings.Split(string(b), "\n") {
		if v, isKey, ok := keyValue(line, "VmSwap:"); isKey {
			ok = ok && v <= math.MaxUint64/1024
			r.swap, r.ok = 0, r.ok && ok
			if ok {
				r.swap = v * 1024
			}
		}
		if v, isKey, ok := keyValue(line, "voluntary_ctxt_switches:"); isKey {
			r.vol, r.ok = v, r.ok && ok
		}
		if v, isKey, ok := keyValue(line, "nonvoluntary_ctxt_switches:"); isKey {
			r.nonvol, r.ok = v, r.ok && ok
		}
	}
	return r
}

// refIO reads read_bytes and write_bytes of an io file line by line: both
// must be there, and the first that does not parse fails the file.
func refIO(b []byte) (read, write uint64, ok bool) {
	var haveR, haveW bool
	for _, line := range strings.Split(string(b), "\n") {
		if v, isKey, good := keyValue(line, "read_bytes:"); isKey {
			if !good {
				return 0, 0, false
			}
			read, haveR = v, true
		}
		if v, isKey, good := keyValue(line, "write_bytes:"); isKey {
			if !good {
				return 0, 0, false
			}
			write, haveW = v, true
		}
	}
	return read, write, haveR && haveW
}
