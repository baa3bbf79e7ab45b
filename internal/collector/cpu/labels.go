package cpu

import (
	"bytes"
	"sort"
	"strconv"

	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// numStrings hands out the decimal string of small non-negative numbers
// (CPU numbers), each made once.
type numStrings []string

func (s *numStrings) get(n int) string {
	for len(*s) <= n {
		*s = append(*s, strconv.Itoa(len(*s)))
	}
	return (*s)[n]
}

// cpuLister lists the cpuN directories of devices/system/cpu. Listing a
// directory costs far more than reading a small file, so it lists again only
// when the kernel's list of present CPUs changes (CPU hot-add or removal).
type cpuLister struct {
	roots       hostfs.Roots
	dir         string
	presentPath string

	present []byte // content of the present file at the last listing
	dirs    []int
	exists  bool
	valid   bool
	buf     []byte
}

func newCPULister(roots hostfs.Roots) *cpuLister {
	return &cpuLister{
		roots:       roots,
		dir:         roots.SysPath("devices", "system", "cpu"),
		presentPath: roots.SysPath("devices", "system", "cpu", "present"),
	}
}

// list returns the CPU numbers with a directory, sorted; ok is false when
// devices/system/cpu does not exist. The slice is reused by the next call.
func (l *cpuLister) list() (dirs []int, ok bool, err error) {
	b, err := l.roots.ReadFile(l.presentPath, l.buf)
	l.buf = b
	if err == nil && l.valid && bytes.Equal(b, l.present) {
		return l.dirs, l.exists, nil
	}
	l.valid = false
	l.dirs, l.exists, err = cpuDirs(l.roots, l.dir, l.dirs)
	if err != nil {
		return nil, false, err
	}
	if b, perr := l.roots.ReadFile(l.presentPath, l.buf); perr == nil {
		// Read again after listing, so a change during the listing is seen
		// on the next call.
		l.buf = b
		l.present = append(l.present[:0], b...)
		l.valid = true
	}
	return l.dirs, l.exists, nil
}

// cpuDirs lists the cpuN directories of dir (a sysfs devices/system/cpu),
// sorted by number, into dst. ok is false when dir does not exist.
func cpuDirs(roots hostfs.Roots, dir string, dst []int) (out []int, ok bool, err error) {
	names, err := roots.ReadDirNames(dir)
	if err != nil {
		if hostfs.IsNotExist(err) {
			return dst[:0], false, nil
		}
		return dst[:0], false, err
	}
	out = dst[:0]
	for _, n := range names {
		if len(n) < 4 || n[:3] != "cpu" {
			continue
		}
		id, ok := hostfs.ParseUint([]byte(n[3:]))
		if !ok {
			continue
		}
		out = append(out, int(id))
	}
	sort.Ints(out)
	return out, true, nil
}
