package procinfo

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/hostfs"
)

func TestParseStat(t *testing.T) {
	const tail = " S 1 42 42 0 -1 4194560 2471 0 0 0 312 45 0 0 20 0 9 0 345678 9876543210 123456 18446744073709551615 1 1 0\n"
	tests := []struct {
		name    string
		in      string
		comm    string
		start   uint64
		wantErr string
	}{
		{name: "plain", in: "42 (python3)" + tail, comm: "python3", start: 345678},
		{name: "comm with spaces and parentheses", in: "42 (tmux: (server))" + tail, comm: "tmux: (server)", start: 345678},
		{name: "empty comm", in: "42 ()" + tail, comm: "", start: 345678},
		{name: "exactly 20 fields after comm", in: "42 (x) S 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 77", comm: "x", start: 77},
		{
			name:    "no parentheses",
			in:      "42 python3 S 1\n",
			wantErr: `/proc/42/stat:1: expected "pid (comm) state ..." (line: "42 python3 S 1")`,
		},
		{
			name:    "truncated",
			in:      "42 (python3) S 1 42 42\n",
			wantErr: `/proc/42/stat:1: 4 fields after comm, want at least 20 (line: "42 (python3) S 1 42 42")`,
		},
		{
			name:    "bad starttime",
			in:      "42 (x) S 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 -5 0\n",
			wantErr: `/proc/42/stat:1: starttime "-5" is not an unsigned integer (line: "42 (x) S 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 -5 0")`,
		},
		{
			name:    "empty",
			in:      "",
			wantErr: `/proc/42/stat:0: expected "pid (comm) state ..." (line: "")`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			comm, start, err := parseStat("/proc/42/stat", []byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v\nwant  %s", err, tt.wantErr)
				}
				var pe *hostfs.ParseError
				if !errors.As(err, &pe) {
					t.Errorf("%T is not a *hostfs.ParseError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(comm) != tt.comm || start != tt.start {
				t.Errorf("got %q %d, want %q %d", comm, start, tt.comm, tt.start)
			}
		})
	}
}

func TestParseStatusUID(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		uid     int
		wantErr string
	}{
		{name: "real uid first", in: "Name:\tsu\nUid:\t1000\t0\t0\t0\nGid:\t0\t0\t0\t0\n", uid: 1000},
		{name: "nobody", in: "Uid:\t65534\t65534\t65534\t65534\n", uid: 65534},
		{
			name:    "three uids",
			in:      "Name:\tx\nUid:\t1\t2\t3\n",
			wantErr: `/proc/42/status:2: expected 4 uids (real, effective, saved, filesystem), got 3 (line: "Uid:\t1\t2\t3")`,
		},
		{
			name:    "not a number",
			in:      "Uid:\tx\t0\t0\t0\n",
			wantErr: `/proc/42/status:1: real uid "x" is not a 32-bit unsigned integer (line: "Uid:\tx\t0\t0\t0")`,
		},
		{
			name:    "too large",
			in:      "Uid:\t4294967296\t0\t0\t0\n",
			wantErr: `/proc/42/status:1: real uid "4294967296" is not a 32-bit unsigned integer (line: "Uid:\t4294967296\t0\t0\t0")`,
		},
		{
			name:    "no Uid line",
			in:      "Name:\tx\nGid:\t0\t0\t0\t0\n",
			wantErr: `/proc/42/status:2: no Uid line (line: "")`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uid, err := parseStatusUID("/proc/42/status", []byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v\nwant  %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if uid != tt.uid {
				t.Errorf("uid = %d, want %d", uid, tt.uid)
			}
		})
	}
}

func TestCmdline(t *testing.T) {
	tests := []struct{ in, want string }{
		{"python3\x00train.py\x00--lr\x003e-4\x00", "python3 train.py --lr 3e-4"},
		{"", ""},
		{"nginx: worker process\x00\x00\x00", "nginx: worker process"}, // rewritten argv
	}
	for _, tt := range tests {
		if got := cmdline([]byte(tt.in)); got != tt.want {
			t.Errorf("cmdline(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	long := make([]byte, MaxCmdline+100)
	for i := range long {
		long[i] = 'a'
	}
	if got := cmdline(long); len(got) != MaxCmdline {
		t.Errorf("long cmdline kept %d bytes, want %d", len(got), MaxCmdline)
	}
}

func TestParsePasswd(t *testing.T) {
	users := parsePasswd([]byte("root:x:0:0:root:/root:/bin/bash\n# c\n+::::::\n-bad:::\nalice:x:1000:1000::/home/alice:/bin/sh\n" +
		"alias:x:1000:1000::/:/bin/sh\nnouid:x::0:::\nshort:x\n:x:5:5:::\n"))
	want := map[int]string{0: "root", 1000: "alice"}
	if len(users) != len(want) {
		t.Fatalf("users = %v, want %v", users, want)
	}
	for uid, name := range want {
		if users[uid] != name {
			t.Errorf("uid %d = %q, want %q", uid, users[uid], name)
		}
	}
}

func fixtureRoots() hostfs.Roots {
	return hostfs.Roots{Proc: filepath.Join("testdata", "proc"), RootFS: filepath.Join("testdata", "rootfs")}
}

// boot is the fixture's btime.
var boot = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestLookup(t *testing.T) {
	r := NewReader(fixtureRoots())
	tests := []struct {
		pid  int
		want Info
	}{
		{1, Info{PID: 1, Command: "systemd", Cmdline: "/sbin/init splash", User: "root", UID: 0,
			StartTime: boot.Add(120 * time.Millisecond), Cgroup: "/init.scope"}},
		{4242, Info{PID: 4242, Command: "pt_main_thread",
			Cmdline: "python3 -m torch.distributed.run --nproc-per-node=8 train.py", User: "alice", UID: 1000,
			StartTime: boot.Add(3456780 * time.Millisecond),
			Container: "3f9d2c1b8a7e", Runtime: "containerd", Pod: "0f3c6a2e-5b1d-4c7e-9a8b-2d4e6f8a0b1c", Namespace: "ml-research",
			Cgroup: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f3c6a2e_5b1d_4c7e_9a8b_2d4e6f8a0b1c.slice/cri-containerd-3f9d2c1b8a7e6d5c4b3a29180f1e2d3c4b5a69788766554433221100ffeeddcc.scope"}},
		{5151, Info{PID: 5151, Command: "python", Cmdline: "python train.py --lr 3e-4", User: "bob", UID: 1001,
			StartTime: boot.Add(987650 * time.Millisecond), SlurmJob: "734211", Cgroup: "/system.slice/slurmd.service"}},
		{6060, Info{PID: 6060, Command: "vllm", Cmdline: "vllm serve meta-llama/Llama-3.1-8B", User: "2000", UID: 2000,
			StartTime: boot.Add(2222220 * time.Millisecond), Container: "31cb02944da7", Runtime: "docker",
			Cgroup: "/system.slice/containerd.service"}},
		{7070, Info{PID: 7070, Command: "tmux: (server)", User: "root", StartTime: boot.Add(50 * time.Second),
			Cgroup: "/user.slice/user-0.slice/session-3.scope"}},
	}
	for _, tt := range tests {
		got, err := r.Lookup(tt.pid)
		if err != nil {
			t.Fatalf("Lookup(%d): %v", tt.pid, err)
		}
		if !got.StartTime.Equal(tt.want.StartTime) {
			t.Errorf("Lookup(%d).StartTime = %v, want %v", tt.pid, got.StartTime, tt.want.StartTime)
		}
		got.StartTime, tt.want.StartTime = time.Time{}, time.Time{}
		if got != tt.want {
			t.Errorf("Lookup(%d)\n got  %+v\n want %+v", tt.pid, got, tt.want)
		}
	}
}

func TestLookupErrors(t *testing.T) {
	r := NewReader(fixtureRoots())
	_, err := r.Lookup(8080)
	want := `testdata/proc/8080/cgroup:2: expected hierarchy-ID:controller-list:cgroup-path (line: "1:name=systemd")`
	if err == nil || err.Error() != want {
		t.Errorf("malformed cgroup: err = %v\nwant %s", err, want)
	}
	var pe *hostfs.ParseError
	if !errors.As(err, &pe) || pe.Line != 2 {
		t.Errorf("malformed cgroup: %v is not a ParseError for line 2", err)
	}

	_, err = r.Lookup(9090)
	want = `testdata/proc/9090/stat:1: 3 fields after comm, want at least 20 (line: "9090 (shortstat) S 1 9090")`
	if err == nil || err.Error() != want {
		t.Errorf("short stat: err = %v\nwant %s", err, want)
	}

	_, err = r.Lookup(99999)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("vanished pid: err = %v, want one matching os.ErrNotExist", err)
	}
	if _, err := r.Lookup(0); err == nil {
		t.Error("pid 0: no error")
	}
}

// copyFixture copies the fixture into a directory the test may change.
func copyFixture(t *testing.T) hostfs.Roots {
	t.Helper()
	dst := t.TempDir()
	for _, d := range []string{"proc", "rootfs"} {
		if out, err := exec.Command("cp", "-a", filepath.Join("testdata", d), dst).CombinedOutput(); err != nil {
			t.Fatalf("copy fixture: %v: %s", err, out)
		}
	}
	return hostfs.Roots{Proc: filepath.Join(dst, "proc"), RootFS: filepath.Join(dst, "rootfs")}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLookupCacheAndReusedPID(t *testing.T) {
	roots := copyFixture(t)
	var reads []string
	roots.Trace = func(p string) { reads = append(reads, filepath.Base(p)) }
	r := NewReader(roots)
	first, err := r.Lookup(4242)
	if err != nil {
		t.Fatal(err)
	}

	// Same process (same start time): served from the cache, only stat
	// is read, even though its cgroup file changed meanwhile.
	write(t, filepath.Join(roots.Proc, "4242", "cgroup"), "0::/init.scope\n")
	reads = nil
	again, err := r.Lookup(4242)
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Errorf("cached lookup changed: %+v", again)
	}
	if len(reads) != 1 || reads[0] != "stat" {
		t.Errorf("cached lookup read %v, want only stat", reads)
	}

	// The PID is reused by another process: a new start time.
	write(t, filepath.Join(roots.Proc, "4242", "stat"),
		"4242 (bash) S 1 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 999999 0 0\n")
	write(t, filepath.Join(roots.Proc, "4242", "cmdline"), "bash\x00")
	reused, err := r.Lookup(4242)
	if err != nil {
		t.Fatal(err)
	}
	if reused.Command != "bash" || reused.Cmdline != "bash" || reused.Container != "" || reused.Pod != "" ||
		reused.Namespace != "" || reused.Cgroup != "/init.scope" {
		t.Errorf("reused pid labelled with stale identity: %+v", reused)
	}
	if !reused.StartTime.Equal(boot.Add(9999990 * time.Millisecond)) {
		t.Errorf("StartTime = %v", reused.StartTime)
	}

	// The process exits.
	if err := os.RemoveAll(filepath.Join(roots.Proc, "4242")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lookup(4242); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("exited: err = %v, want os.ErrNotExist", err)
	}
	r.Forget(4242)
}

func TestLookupPasswdReread(t *testing.T) {
	roots := copyFixture(t)
	r := NewReader(roots)
	now := boot
	r.now = func() time.Time { return now }
	info, err := r.Lookup(6060)
	if err != nil {
		t.Fatal(err)
	}
	if info.User != "2000" {
		t.Fatalf("User = %q, want the numeric uid", info.User)
	}
	// The user is added; a new process of that uid within passwdTTL
	// still gets the number, after it the name.
	f, err := os.OpenFile(filepath.Join(roots.RootFS, "etc", "passwd"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("svc:x:2000:2000::/:/bin/false\n")
	f.Close()
	r.Forget(6060)
	if info, _ = r.Lookup(6060); info.User != "2000" {
		t.Errorf("within TTL: User = %q, want 2000", info.User)
	}
	now = now.Add(passwdTTL)
	r.Forget(6060)
	if info, _ = r.Lookup(6060); info.User != "svc" {
		t.Errorf("after TTL: User = %q, want svc", info.User)
	}
}

func TestLookupNoBootTime(t *testing.T) {
	roots := copyFixture(t)
	if err := os.Remove(filepath.Join(roots.Proc, "stat")); err != nil {
		t.Fatal(err)
	}
	info, err := NewReader(roots).Lookup(1)
	if err != nil {
		t.Fatal(err)
	}
	if !info.StartTime.IsZero() {
		t.Errorf("StartTime = %v, want zero without /proc/stat", info.StartTime)
	}
}

func TestCacheSweep(t *testing.T) {
	r := NewReader(fixtureRoots())
	for pid := 100000; pid < 100000+maxEntries; pid++ {
		r.cache[pid] = &entry{used: pid%2 == 0}
	}
	if _, err := r.Lookup(1); err != nil {
		t.Fatal(err)
	}
	if n := len(r.cache); n > maxEntries/2+1 {
		t.Errorf("cache holds %d entries after a sweep", n)
	}
	if _, ok := r.cache[1]; !ok {
		t.Error("the new entry is not cached")
	}
	for pid, e := range r.cache {
		if pid != 1 && e.used {
			t.Errorf("entry %d still marked used after the sweep", pid)
			break
		}
	}
}

func TestLookupConcurrent(t *testing.T) {
	r := NewReader(fixtureRoots())
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, pid := range []int{1, 4242, 5151, 6060, 7070} {
				if _, err := r.Lookup(pid); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
}

func TestLookupLiveSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	info, err := NewReader(hostfs.DefaultRoots()).Lookup(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if info.Command == "" || info.User == "" || info.StartTime.IsZero() || time.Since(info.StartTime) < 0 {
		t.Errorf("self: %+v", info)
	}
}

// BenchmarkLookup measures a cached lookup (the steady state: one stat
// read) and a miss (stat, status, cmdline, cgroup, namespace).
func BenchmarkLookup(b *testing.B) {
	b.Run("cached", func(b *testing.B) {
		r := NewReader(fixtureRoots())
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := r.Lookup(4242); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("miss", func(b *testing.B) {
		r := NewReader(fixtureRoots())
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			r.Forget(4242)
			if _, err := r.Lookup(4242); err != nil {
				b.Fatal(err)
			}
		}
	})
}
