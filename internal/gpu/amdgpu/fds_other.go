//go:build !linux

package amdgpu

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// fdScratch is unused off Linux, where there is no amdgpu.
type fdScratch struct{}

func newFDScratch() fdScratch { return fdScratch{} }

// drmFDs appends to dst the names of the entries of dir whose links point
// into /dev/dri/.
func (s *fdScratch) drmFDs(dir string, dst []string, roots hostfs.Roots) ([]string, error) {
	names, err := roots.ReadDirNames(dir)
	if err != nil {
		return dst, err
	}
	for _, n := range names {
		if t, err := os.Readlink(filepath.Join(dir, n)); err == nil && strings.HasPrefix(t, string(devDRI)) {
			dst = append(dst, n)
		}
	}
	return dst, nil
}
