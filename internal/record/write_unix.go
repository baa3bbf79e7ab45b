//go:build unix

package record

import (
	"errors"
	"os"
	"syscall"
)

// writeOnce writes b with exactly one write(2) call (retried only when it
// was interrupted before writing anything), so that on an O_APPEND file the
// line lands whole and contiguous even when another process appends too.
// os.File.Write would loop on a short write and could split the line.
func writeOnce(f *os.File, b []byte) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var werr error
	err = rc.Write(func(fd uintptr) bool {
		for {
			n, werr = syscall.Write(int(fd), b)
			if !errors.Is(werr, syscall.EINTR) {
				return true
			}
		}
	})
	if n < 0 {
		n = 0
	}
	if err != nil {
		return n, err
	}
	return n, werr
}
