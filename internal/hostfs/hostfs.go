// Package hostfs locates the host's /proc, /sys and root filesystem (real or
// a fixture tree under testdata/) and reads their small pseudo-files cheaply,
// with parse errors that name the file and line.
package hostfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// Roots are the directories the host collectors read. Tests point them at
// fixture trees; in a container they point at the host's mounts.
type Roots struct {
	// Proc is the procfs mount, default /proc.
	Proc string `yaml:"proc"`
	// Sys is the sysfs mount, default /sys.
	Sys string `yaml:"sys"`
	// RootFS is the host's root filesystem, default /; mount points from
	// mountinfo are resolved under it for statfs.
	RootFS string `yaml:"rootfs"`
	// Dev is where device nodes and udev data live, default /dev.
	Dev string `yaml:"dev"`
	// Run is the run-time state directory (udev data), default /run.
	Run string `yaml:"run"`

	// Trace, when set, is called with every path read through the Roots'
	// methods ("statfs:PATH" for statfs calls, "netlink:WHAT" for netlink
	// dumps). The floor benchmark uses it to read exactly the same files.
	Trace func(path string) `yaml:"-"`
}

func (r Roots) trace(path string) {
	if r.Trace != nil {
		r.Trace(path)
	}
}

// Note records an access that is not a file read (statfs, netlink) for Trace.
func (r Roots) Note(what string) { r.trace(what) }

// ReadFile is ReadFile, recorded by Trace.
func (r Roots) ReadFile(path string, buf []byte) ([]byte, error) {
	r.trace(path)
	return ReadFile(path, buf)
}

// ReadString is ReadString, recorded by Trace.
func (r Roots) ReadString(path string) (string, error) {
	r.trace(path)
	return ReadString(path)
}

// ReadUint is ReadUint, recorded by Trace.
func (r Roots) ReadUint(path string) (uint64, error) {
	r.trace(path)
	return ReadUint(path)
}

// ReadInt is ReadInt, recorded by Trace.
func (r Roots) ReadInt(path string) (int64, error) {
	r.trace(path)
	return ReadInt(path)
}

// ReadDirNames is ReadDirNames, recorded by Trace.
func (r Roots) ReadDirNames(dir string) ([]string, error) {
	r.trace("dir:" + dir)
	return ReadDirNames(dir)
}

// DefaultRoots returns the real host's roots.
func DefaultRoots() Roots {
	return Roots{Proc: "/proc", Sys: "/sys", RootFS: "/", Dev: "/dev", Run: "/run"}
}

// WithDefaults fills empty fields with the real host's roots.
func (r Roots) WithDefaults() Roots {
	d := DefaultRoots()
	if r.Proc == "" {
		r.Proc = d.Proc
	}
	if r.Sys == "" {
		r.Sys = d.Sys
	}
	if r.RootFS == "" {
		r.RootFS = d.RootFS
	}
	if r.Dev == "" {
		r.Dev = d.Dev
	}
	if r.Run == "" {
		r.Run = d.Run
	}
	return r
}

// ProcPath joins elements under the proc root.
func (r Roots) ProcPath(elem ...string) string {
	return filepath.Join(append([]string{r.Proc}, elem...)...)
}

// SysPath joins elements under the sys root.
func (r Roots) SysPath(elem ...string) string {
	return filepath.Join(append([]string{r.Sys}, elem...)...)
}

// RootPath resolves an absolute host path under the root filesystem.
func (r Roots) RootPath(p string) string {
	return filepath.Join(r.RootFS, p)
}

// ReadFile reads a whole pseudo-file into buf (grown as needed) and returns
// the filled slice. Unlike os.ReadFile it does not stat the file (procfs and
// sysfs report sizes of 0 or 4096) and reuses the caller's buffer.
func ReadFile(path string, buf []byte) ([]byte, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return buf[:0], &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	return readAll(fd, path, buf, false)
}

// PreadFile is ReadFile on a descriptor kept open: it reads the whole file
// from offset 0 with pread into buf (grown as needed), a short read being
// the end, and leaves the descriptor open. A procfs or sysfs file
// regenerates its content on a read at offset 0, so each call sees the
// current content. path only names the file in errors.
func PreadFile(fd int, path string, buf []byte) ([]byte, error) {
	return readAll(fd, path, buf, true)
}

// readAll reads fd to its end into buf (grown as needed): with pread from
// offset 0 when pread is set, else with read from the current offset.
func readAll(fd int, path string, buf []byte, pread bool) ([]byte, error) {
	if cap(buf) == 0 {
		buf = make([]byte, 0, 4096)
	}
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		var (
			n   int
			err error
		)
		if pread {
			n, err = syscall.Pread(fd, buf[len(buf):cap(buf)], int64(len(buf)))
		} else {
			n, err = syscall.Read(fd, buf[len(buf):cap(buf)])
		}
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			op := "read"
			if pread {
				op = "pread"
			}
			return buf, &os.PathError{Op: op, Path: path, Err: err}
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
		if len(buf) < cap(buf) {
			// A short read is the end: procfs and sysfs files are
			// seq_files, whose read fills the buffer unless the content
			// ends, and a regular file's read is short only at its end.
			// Not asking for the empty read saves a syscall per file.
			return buf, nil
		}
	}
}

// ReadString reads a small file (a sysfs attribute) and returns its content
// without surrounding white space.
func ReadString(path string) (string, error) {
	var arr [256]byte
	b, err := ReadFile(path, arr[:0])
	if err != nil {
		return "", err
	}
	return string(bytes.TrimSpace(b)), nil
}

// ReadUint reads a sysfs attribute holding one unsigned integer.
func ReadUint(path string) (uint64, error) {
	var arr [64]byte
	b, err := ReadFile(path, arr[:0])
	if err != nil {
		return 0, err
	}
	b = bytes.TrimSpace(b)
	v, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0, &ParseError{File: path, Line: 1, Text: string(b), Msg: "expected an unsigned integer"}
	}
	return v, nil
}

// ReadInt reads a sysfs attribute holding one signed integer.
func ReadInt(path string) (int64, error) {
	var arr [64]byte
	b, err := ReadFile(path, arr[:0])
	if err != nil {
		return 0, err
	}
	b = bytes.TrimSpace(b)
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, &ParseError{File: path, Line: 1, Text: string(b), Msg: "expected an integer"}
	}
	return v, nil
}

// ParseError is a malformed line in a host file.
type ParseError struct {
	File string
	Line int
	Text string
	Msg  string
}

func (e *ParseError) Error() string {
	t := e.Text
	if len(t) > 120 {
		t = t[:120] + "..."
	}
	return fmt.Sprintf("%s:%d: %s (line: %q)", e.File, e.Line, e.Msg, t)
}

// IsNotExist reports whether err means a file or directory is missing.
func IsNotExist(err error) bool {
	return errors.Is(err, os.ErrNotExist)
}

// Lines iterates over the lines of a file's content, keeping line numbers
// for error messages.
type Lines struct {
	File string
	data []byte
	line int
	cur  []byte
}

// NewLines returns an iterator over data, which was read from file.
func NewLines(file string, data []byte) *Lines {
	return &Lines{File: file, data: data}
}

// Next advances to the next line; it returns false at the end.
func (l *Lines) Next() bool {
	if len(l.data) == 0 {
		return false
	}
	i := bytes.IndexByte(l.data, '\n')
	if i < 0 {
		l.cur, l.data = l.data, nil
	} else {
		l.cur, l.data = l.data[:i], l.data[i+1:]
	}
	l.line++
	return true
}

// Bytes returns the current line without its newline.
func (l *Lines) Bytes() []byte { return l.cur }

// Number returns the current line's number, starting at 1.
func (l *Lines) Number() int { return l.line }

// Errorf returns a ParseError for the current line.
func (l *Lines) Errorf(format string, args ...any) error {
	return &ParseError{File: l.File, Line: l.line, Text: string(l.cur), Msg: fmt.Sprintf(format, args...)}
}

// Fields splits b on spaces and tabs into dst (reused) without allocating
// new backing arrays for the fields themselves.
func Fields(dst [][]byte, b []byte) [][]byte {
	dst = dst[:0]
	i := 0
	for i < len(b) {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
			i++
		}
		if i >= len(b) {
			break
		}
		j := i
		for j < len(b) && b[j] != ' ' && b[j] != '\t' {
			j++
		}
		dst = append(dst, b[i:j])
		i = j
	}
	return dst
}

// ParseUint parses an unsigned decimal integer from b without allocating.
func ParseUint(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// ParseFloat parses a decimal number (integer or float) from b.
func ParseFloat(b []byte) (float64, bool) {
	if u, ok := ParseUint(b); ok {
		return float64(u), true
	}
	if len(b) > 0 && b[0] == '-' {
		if u, ok := ParseUint(b[1:]); ok {
			return -float64(u), true
		}
	}
	f, err := strconv.ParseFloat(string(b), 64)
	return f, err == nil
}

// ReadDirNames lists a directory's entry names (unsorted).
func ReadDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	return names, nil
}
