//go:build linux

package amdgpu

import (
	"bytes"
	"encoding/binary"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// fdScratch holds the buffers for listing a process's fds and reading
// their links without allocating.
type fdScratch struct {
	dirent []byte
	link   []byte
}

func newFDScratch() fdScratch {
	return fdScratch{dirent: make([]byte, 16<<10), link: make([]byte, 64)}
}

// drmFDs appends to dst the names of the entries of dir (a /proc/PID/fd)
// whose links point into /dev/dri/. Only those names are allocated.
func (s *fdScratch) drmFDs(dir string, dst []string, roots hostfs.Roots) ([]string, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return dst, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	for {
		n, err := unix.ReadDirent(fd, s.dirent)
		if err != nil {
			return dst, &os.PathError{Op: "getdents", Path: dir, Err: err}
		}
		if n <= 0 {
			return dst, nil
		}
		// struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen;
		// u8 d_type; char d_name[]; } with d_name NUL-terminated.
		for buf := s.dirent[:n]; len(buf) >= 19; {
			reclen := int(binary.NativeEndian.Uint16(buf[16:18]))
			if reclen < 19 || reclen > len(buf) {
				break
			}
			name := buf[19:reclen]
			buf = buf[reclen:]
			end := bytes.IndexByte(name, 0)
			if end <= 0 || name[0] == '.' {
				continue
			}
			if roots.Trace != nil {
				roots.Note("readlink:" + dir + "/" + string(name[:end]))
			}
			m, err := readlinkat(fd, &name[0], s.link)
			if err != nil {
				continue // closed meanwhile
			}
			if bytes.HasPrefix(s.link[:m], devDRI) {
				dst = append(dst, string(name[:end]))
			}
		}
	}
}

// readlinkat is readlinkat(2) with a NUL-terminated name already in memory,
// so that no path string is built for each of the thousands of fds a scan
// looks at. A link longer than buf is cut, which is enough for a prefix
// test.
func readlinkat(dirfd int, name *byte, buf []byte) (int, error) {
	n, _, e := unix.Syscall6(unix.SYS_READLINKAT, uintptr(dirfd), uintptr(unsafe.Pointer(name)),
		uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
