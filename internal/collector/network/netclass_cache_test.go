package network

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// fakeClock is an injectable clock that moves only when told.
type fakeClock struct{ t time.Time }

func (f *fakeClock) now() time.Time          { return f.t }
func (f *fakeClock) advance(d time.Duration) { f.t = f.t.Add(d) }

// tracer records the paths a collector reads.
type tracer struct{ paths []string }

func (tr *tracer) trace(p string) { tr.paths = append(tr.paths, p) }

// take returns the paths recorded since the last call.
func (tr *tracer) take() []string {
	p := tr.paths
	tr.paths = nil
	return p
}

// newCachedNetclass returns a netclass collector over sys with an injected
// clock and a read tracer.
func newCachedNetclass(t *testing.T, roots hostfs.Roots, cfg Config) (*netclassCollector, *fakeClock, *tracer) {
	t.Helper()
	clk := &fakeClock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	tr := &tracer{}
	roots.Trace = tr.trace
	cfg.Now = clk.now
	return newByName(t, roots, cfg, "netclass").(*netclassCollector), clk, tr
}

// fastFiles are the attributes read every tick (see netclass.go's table).
var fastFiles = map[string]bool{"operstate": true, "carrier": true, "carrier_changes": true,
	"carrier_up_count": true, "carrier_down_count": true, "dormant": true}

// readsOf returns the attribute file names read under iface, sorted.
func readsOf(paths []string, iface string) []string {
	var out []string
	for _, p := range paths {
		if filepath.Base(filepath.Dir(p)) == iface {
			out = append(out, filepath.Base(p))
		}
	}
	sort.Strings(out)
	return out
}

// samples flattens a result for comparison.
func samples(r result) map[string]float64 {
	out := make(map[string]float64)
	for name, f := range r {
		for _, s := range f.Samples {
			out[name+"{"+strings.Join(s.LabelValues, ",")+"}"] = s.Value
		}
	}
	return out
}

func TestNetclassSteadyStateReadsOnlyFastFiles(t *testing.T) {
	c, clk, tr := newCachedNetclass(t, fixtureRoots(), Config{})
	first := collectOnce(t, c)
	if n := len(tr.take()); n < 5*20 {
		t.Fatalf("discovery read %d files, want every attribute of 5 interfaces", n)
	}
	for tick := 1; tick <= 3; tick++ {
		clk.advance(time.Second)
		r := collectOnce(t, c)
		paths := tr.take()
		for _, p := range paths {
			if !fastFiles[filepath.Base(p)] {
				t.Errorf("tick %d read %s, which is not a fast attribute", tick, p)
			}
		}
		// 5 interfaces x 6 fast attributes; bonding_masters is not probed.
		if len(paths) != 30 {
			t.Errorf("tick %d read %d files, want 30: %q", tick, len(paths), paths)
		}
		if !reflect.DeepEqual(samples(r), samples(first)) {
			t.Errorf("tick %d output differs from discovery:\n%v\nwant\n%v", tick, samples(r), samples(first))
		}
	}
}

func TestNetclassSlowAttributesRereadAfterInterval(t *testing.T) {
	sys := t.TempDir()
	writeIface(t, sys, "eth9", map[string]string{"ifindex": "7", "operstate": "up", "carrier": "1",
		"mtu": "1500", "address": "aa:bb:cc:dd:ee:ff", "flags": "0x1003"})
	c, clk, tr := newCachedNetclass(t, hostfs.Roots{Sys: sys}, Config{NetclassSlowInterval: time.Minute})
	collectOnce(t, c)
	tr.take()

	// Reconfiguration (no link event): seen only at the next slow read.
	writeIface(t, sys, "eth9", map[string]string{"mtu": "9000", "address": "aa:bb:cc:dd:ee:00", "flags": "0x1103"})
	writeIface(t, sys, "eth10", map[string]string{"ifindex": "8", "operstate": "up"})
	clk.advance(59 * time.Second)
	r := collectOnce(t, c)
	r.want(t, "node_network_mtu_bytes", 1500, "eth9")
	r.want(t, "node_network_flags", 0x1003, "eth9")
	r.want(t, "node_network_info", 1, "aa:bb:cc:dd:ee:ff", "up", "", "eth9", "", "", "up")
	r.absent(t, "node_network_up", "eth10") // a new interface waits for the listing
	if got := readsOf(tr.take(), "eth9"); !reflect.DeepEqual(got, []string{"carrier", "operstate"}) {
		t.Errorf("before the interval, eth9 reads %q, want its existing fast attributes only", got)
	}

	clk.advance(time.Second)
	r = collectOnce(t, c)
	r.want(t, "node_network_mtu_bytes", 9000, "eth9")
	r.want(t, "node_network_flags", 0x1103, "eth9")
	r.want(t, "node_network_info", 1, "aa:bb:cc:dd:ee:00", "up", "", "eth9", "", "", "up")
	r.want(t, "node_network_up", 1, "eth10")
	paths := tr.take()
	if !strings.HasPrefix(paths[0], "dir:") {
		t.Errorf("slow tick did not list %s first: %q", filepath.Join(sys, "class", "net"), paths)
	}
	if got := readsOf(paths, "eth9"); len(got) != ncNumeric+ncStrings {
		t.Errorf("slow tick read %d attributes of eth9, want all %d: %q", len(got), ncNumeric+ncStrings, got)
	}

	// The next interval counts from the slow tick.
	writeIface(t, sys, "eth9", map[string]string{"mtu": "1280"})
	clk.advance(59 * time.Second)
	collectOnce(t, c).want(t, "node_network_mtu_bytes", 9000, "eth9")
	clk.advance(time.Second)
	collectOnce(t, c).want(t, "node_network_mtu_bytes", 1280, "eth9")

	// A clock stepped back does not freeze the cache.
	writeIface(t, sys, "eth9", map[string]string{"mtu": "1400"})
	clk.advance(-time.Hour)
	collectOnce(t, c).want(t, "node_network_mtu_bytes", 1400, "eth9")
}

func TestNetclassVanishedInterface(t *testing.T) {
	sys := t.TempDir()
	writeIface(t, sys, "eth9", map[string]string{"ifindex": "7", "operstate": "up", "carrier": "1"})
	writeIface(t, sys, "veth1", map[string]string{"ifindex": "8", "operstate": "up", "carrier": "1"})
	c, clk, tr := newCachedNetclass(t, hostfs.Roots{Sys: sys}, Config{})
	collectOnce(t, c).want(t, "node_network_up", 1, "veth1")
	tr.take()

	if err := os.RemoveAll(filepath.Join(sys, "class", "net", "veth1")); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Second)
	r := collectOnce(t, c)
	r.absent(t, "node_network_up", "veth1")
	r.absent(t, "node_network_info", "", "unknown", "", "veth1", "", "", "")
	r.want(t, "node_network_up", 1, "eth9")
	relisted := false
	for _, p := range tr.take() {
		relisted = relisted || strings.HasPrefix(p, "dir:")
	}
	if !relisted {
		t.Error("a vanished interface did not list /sys/class/net again at once")
	}
	if _, ok := c.ifaces["veth1"]; ok || len(c.ifaces) != 1 {
		t.Errorf("vanished interface still cached: %d entries", len(c.ifaces))
	}

	// Back under the same name: seen at the next listing.
	writeIface(t, sys, "veth1", map[string]string{"ifindex": "9", "operstate": "up", "carrier": "1"})
	clk.advance(time.Minute)
	collectOnce(t, c).want(t, "node_network_iface_id", 9, "veth1")
}

func TestNetclassLinkEventRefreshesSlowAttributes(t *testing.T) {
	sys := t.TempDir()
	writeIface(t, sys, "eth9", map[string]string{"ifindex": "7", "operstate": "down", "carrier": "0",
		"carrier_changes": "2", "speed": "-1", "duplex": "unknown", "flags": "0x1003"})
	writeIface(t, sys, "bond0", map[string]string{"ifindex": "9", "operstate": "up", "carrier": "1",
		"speed": "100000", "duplex": "full", "flags": "0x1403"})
	c, clk, tr := newCachedNetclass(t, hostfs.Roots{Sys: sys}, Config{})
	r := collectOnce(t, c)
	r.absent(t, "node_network_speed_bytes", "eth9")
	r.want(t, "node_network_info", 1, "", "up", "", "eth9", "unknown", "", "down")

	// eth9's link comes up at 25G; bond0 (its master) gains its speed
	// without a link event of its own.
	writeIface(t, sys, "eth9", map[string]string{"operstate": "up", "carrier": "1", "carrier_changes": "3",
		"speed": "25000", "duplex": "full"})
	writeIface(t, sys, "bond0", map[string]string{"speed": "125000"})
	clk.advance(time.Second)
	tr.take()
	r = collectOnce(t, c)
	r.want(t, "node_network_up", 1, "eth9")
	r.want(t, "node_network_speed_bytes", 25000*125000, "eth9")
	r.want(t, "node_network_info", 1, "", "up", "", "eth9", "full", "", "up")
	r.want(t, "node_network_speed_bytes", 125000*125000, "bond0")
	paths := tr.take()
	for _, iface := range []string{"eth9", "bond0"} {
		seen := map[string]int{}
		for _, f := range readsOf(paths, iface) {
			seen[f]++
		}
		for f, n := range seen {
			if n > 1 {
				t.Errorf("%s/%s read %d times in one tick", iface, f, n)
			}
		}
		for _, a := range netclassNumeric {
			if !a.fast && seen[a.file] == 0 {
				t.Errorf("%s/%s not read again on the link event", iface, a.file)
			}
		}
	}

	// A flap between two ticks (carrier_changes only) is a link event too.
	writeIface(t, sys, "eth9", map[string]string{"carrier_changes": "5", "speed": "10000"})
	clk.advance(time.Second)
	collectOnce(t, c).want(t, "node_network_speed_bytes", 10000*125000, "eth9")

	// No event, no refresh.
	writeIface(t, sys, "eth9", map[string]string{"speed": "1000"})
	clk.advance(time.Second)
	collectOnce(t, c).want(t, "node_network_speed_bytes", 10000*125000, "eth9")
}

func TestNetclassSlowReadErrorRetried(t *testing.T) {
	sys := t.TempDir()
	writeIface(t, sys, "eth9", map[string]string{"ifindex": "7", "operstate": "up", "mtu": "abc"})
	c, clk, _ := newCachedNetclass(t, hostfs.Roots{Sys: sys}, Config{})
	if _, err := collector.CollectOnce(t.Context(), c); err == nil {
		t.Fatal("malformed mtu: no error")
	}
	// Fixed before the next slow interval: read again on the next tick.
	writeIface(t, sys, "eth9", map[string]string{"mtu": "1500"})
	clk.advance(time.Second)
	collectOnce(t, c).want(t, "node_network_mtu_bytes", 1500, "eth9")
}

func TestNetclassSlowIntervalConfig(t *testing.T) {
	_, err := New(fixtureRoots(), Config{NetclassSlowInterval: -time.Second})
	want := "network config: netclass_slow_interval is -1s; it must be positive (for example 1m), or 0 for the default of 1m0s"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	for _, tt := range []struct {
		in, want time.Duration
	}{{0, time.Minute}, {10 * time.Second, 10 * time.Second}} {
		c := newByName(t, fixtureRoots(), Config{NetclassSlowInterval: tt.in}, "netclass").(*netclassCollector)
		if c.slowEvery != tt.want {
			t.Errorf("netclass_slow_interval %s: interval %s, want %s", tt.in, c.slowEvery, tt.want)
		}
		if c.now == nil {
			t.Error("no default clock")
		}
	}
}
