package metricsdoc

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// extractTar unpacks a fixture tree kept as a tar archive (sysfs paths
// hold ':', which Go module zips do not allow) into dst and returns dst.
// Directories, regular files and symbolic links are restored.
func extractTar(archive, dst string) (string, error) {
	f, err := os.Open(archive)
	if err != nil {
		return "", err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return dst, nil
		}
		if err != nil {
			return "", fmt.Errorf("%s: %w", archive, err)
		}
		name := filepath.Clean(h.Name)
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return "", fmt.Errorf("%s: entry %q leaves the archive's directory", archive, h.Name)
		}
		if err := extractEntry(tr, h, filepath.Join(dst, name)); err != nil {
			return "", fmt.Errorf("%s: %s: %w", archive, h.Name, err)
		}
	}
}

// extractEntry writes one archive entry at p.
func extractEntry(tr *tar.Reader, h *tar.Header, p string) error {
	switch h.Typeflag {
	case tar.TypeDir:
		return os.MkdirAll(p, 0o755)
	case tar.TypeReg:
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		out, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o777|0o200)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, tr)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		return err
	case tar.TypeSymlink:
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.Symlink(h.Linkname, p)
	}
	return fmt.Errorf("unsupported entry type %q", h.Typeflag)
}
