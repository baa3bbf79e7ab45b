package disk

import (
	"context"
	"fmt"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// maxStats is the number of statistics per device that node_exporter
// exports: 11 before Linux 4.18, 15 with discards (4.18), 17 with flushes
// (5.5). Further columns of later kernels are ignored.
const maxStats = 17

// minStats is the number of statistics the oldest supported format has.
const minStats = 11

// statColumns names the exported statistics in /proc/diskstats order, with
// node_exporter's help texts, types and the factor from the kernel's unit
// (512-byte sectors, milliseconds) to bytes and seconds.
var statColumns = [maxStats]struct {
	name, help string
	typ        collector.ValueType
	scale      float64
}{
	{"reads_completed_total", "The total number of reads completed successfully.", collector.Counter, 1},
	{"reads_merged_total", "The total number of reads merged.", collector.Counter, 1},
	{"read_bytes_total", "The total number of bytes read successfully.", collector.Counter, unixSectorSize},
	{"read_time_seconds_total", "The total number of seconds spent by all reads.", collector.Counter, secondsPerTick},
	{"writes_completed_total", "The total number of writes completed successfully.", collector.Counter, 1},
	{"writes_merged_total", "The number of writes merged.", collector.Counter, 1},
	{"written_bytes_total", "The total number of bytes written successfully.", collector.Counter, unixSectorSize},
	{"write_time_seconds_total", "This is the total number of seconds spent by all writes.", collector.Counter, secondsPerTick},
	{"io_now", "The number of I/Os currently in progress.", collector.Gauge, 1},
	{"io_time_seconds_total", "Total seconds spent doing I/Os.", collector.Counter, secondsPerTick},
	{"io_time_weighted_seconds_total", "The weighted # of seconds spent doing I/Os.", collector.Counter, secondsPerTick},
	{"discards_completed_total", "The total number of discards completed successfully.", collector.Counter, 1},
	{"discards_merged_total", "The total number of discards merged.", collector.Counter, 1},
	{"discarded_sectors_total", "The total number of sectors discarded successfully.", collector.Counter, 1},
	{"discard_time_seconds_total", "This is the total number of seconds spent by all discards.", collector.Counter, secondsPerTick},
	{"flush_requests_total", "The total number of flush requests completed successfully", collector.Counter, 1},
	{"flush_requests_time_seconds_total", "This is the total number of seconds spent by all flush requests.", collector.Counter, secondsPerTick},
}

const (
	// secondsPerTick converts the kernel's milliseconds to seconds exactly
	// as node_exporter does (a multiplication, not a division, so that the
	// values are bit-identical).
	secondsPerTick = 1.0 / 1000.0
	// unixSectorSize is the size of the kernel's sector unit, whatever the
	// device's own sector size.
	unixSectorSize = 512.0
)

// diskLine is one parsed line of /proc/diskstats. The byte slices point into
// the buffer the line was read from.
type diskLine struct {
	Major, Minor, Name []byte
	Stats              [maxStats]uint64
	// N is the number of statistics the line had, at most maxStats.
	N int
}

// diskDevice is what the collector keeps about one device between ticks.
type diskDevice struct {
	name, major, minor string
	ignored            bool
	labels             []string // {name}; never modified once emitted
	info               []string // node_disk_info label values; never modified
	gen                uint64
}

// diskstatsCollector reads /proc/diskstats as node_exporter's diskstats
// collector, and node_disk_info from sysfs.
type diskstatsCollector struct {
	roots  hostfs.Roots
	path   string
	filter deviceFilter
	buf    []byte
	fields [][]byte
	lines  []diskLine
	attr   []byte // buffer for binary sysfs attributes

	byPos  []*diskDevice // this tick's devices, in file order
	byName map[string]*diskDevice
	gen    uint64

	descs    [maxStats]*collector.Desc
	infoDesc *collector.Desc
}

func newDiskstats(roots hostfs.Roots, filter deviceFilter) *diskstatsCollector {
	c := &diskstatsCollector{
		roots:  roots,
		path:   roots.ProcPath("diskstats"),
		filter: filter,
		byName: make(map[string]*diskDevice),
		infoDesc: collector.NewDesc("node_disk_info", "Info of /sys/block/<block_device>.", collector.Gauge,
			"device", "major", "minor", "path", "wwn", "model", "serial", "revision", "rotational"),
	}
	for i, col := range statColumns {
		c.descs[i] = collector.NewDesc("node_disk_"+col.name, col.help, col.typ, "device")
	}
	return c
}

func (c *diskstatsCollector) Name() string { return "diskstats" }

func (c *diskstatsCollector) Collect(_ context.Context, e *collector.Emitter) error {
	b, err := c.roots.ReadFile(c.path, c.buf)
	c.buf = b
	if err != nil {
		if hostfs.IsNotExist(err) {
			return fmt.Errorf("diskstats: %s does not exist: %w", c.path, collector.ErrNoData)
		}
		return fmt.Errorf("read disk statistics: %w", err)
	}
	c.lines, c.fields, err = parseDiskstats(c.path, b, c.lines, c.fields)
	if err != nil {
		return err
	}
	c.gen++
	c.byPos = c.byPos[:min(len(c.byPos), len(c.lines))]
	for i := range c.lines {
		l := &c.lines[i]
		d := c.device(i, l)
		if d.ignored {
			continue
		}
		e.Emit(c.infoDesc, 1, d.info...)
		for j := 0; j < l.N; j++ {
			e.Emit(c.descs[j], float64(l.Stats[j])*statColumns[j].scale, d.labels...)
		}
	}
	// Forget the devices that are gone, so that a device that comes back
	// (a hot-plugged disk) has its sysfs attributes read again.
	if len(c.byName) > len(c.lines) {
		for name, d := range c.byName {
			if d.gen != c.gen {
				delete(c.byName, name)
			}
		}
	}
	return nil
}

// device returns the cached device of line i, creating it (filter decision,
// sysfs attributes) the first time the device is seen.
func (c *diskstatsCollector) device(i int, l *diskLine) *diskDevice {
	if i < len(c.byPos) {
		if d := c.byPos[i]; d.same(l) {
			d.gen = c.gen
			return d
		}
	}
	d, ok := c.byName[string(l.Name)]
	if !ok || !d.same(l) {
		name := string(l.Name)
		d = &diskDevice{name: name, major: string(l.Major), minor: string(l.Minor)}
		d.ignored = c.filter.ignored(name)
		if !d.ignored {
			d.labels = []string{name}
			d.info = c.readInfo(d.name, d.major, d.minor)
		}
		c.byName[name] = d
	}
	d.gen = c.gen
	if i < len(c.byPos) {
		c.byPos[i] = d
	} else {
		c.byPos = append(c.byPos, d)
	}
	return d
}

func (d *diskDevice) same(l *diskLine) bool {
	return d.name == string(l.Name) && d.major == string(l.Major) && d.minor == string(l.Minor)
}

// parseDiskstats parses /proc/diskstats ("major minor name" and 11, 15, 17
// or more statistics per line) into dst, reusing dst and fields.
func parseDiskstats(file string, b []byte, dst []diskLine, fields [][]byte) ([]diskLine, [][]byte, error) {
	dst = dst[:0]
	l := hostfs.NewLines(file, b)
	for l.Next() {
		fields = hostfs.Fields(fields, l.Bytes())
		if len(fields) == 0 {
			continue
		}
		if len(fields) < 3+minStats {
			return dst, fields, l.Errorf("expected major, minor, device name and at least %d statistics, got %d fields", minStats, len(fields))
		}
		if _, ok := hostfs.ParseUint(fields[0]); !ok {
			return dst, fields, l.Errorf("major number %q is not an unsigned integer", fields[0])
		}
		if _, ok := hostfs.ParseUint(fields[1]); !ok {
			return dst, fields, l.Errorf("minor number %q is not an unsigned integer", fields[1])
		}
		dst = append(dst, diskLine{Major: fields[0], Minor: fields[1], Name: fields[2]})
		d := &dst[len(dst)-1]
		d.N = min(len(fields)-3, maxStats)
		for j := 0; j < d.N; j++ {
			v, ok := hostfs.ParseUint(fields[3+j])
			if !ok {
				return dst, fields, l.Errorf("statistic %d of %s: %q is not an unsigned integer", j+1, fields[2], fields[3+j])
			}
			d.Stats[j] = v
		}
	}
	return dst, fields, nil
}
