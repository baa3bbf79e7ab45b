package amdgpu

import (
	"bytes"
	"errors"
	"testing"

	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// FuzzFdinfo checks parseFdinfo on any /proc/PID/fdinfo content (every
// DRM driver writes its own keys): a malformed DRM key is a located error,
// and what is parsed comes from the file: the VRAM agrees with a plain
// reading of the first occurrence of the preferred key.
func FuzzFdinfo(f *testing.F) {
	const head = "pos:\t0\nflags:\t02100002\nmnt_id:\t26\nino:\t1107\n"
	for _, s := range []string{
		head + "drm-driver:\tamdgpu\ndrm-client-id:\t17\ndrm-pdev:\t0000:05:00.0\npasid:\t32785\n" +
			"drm-total-vram:\t9 KiB\ndrm-resident-vram:\t8 KiB\ndrm-memory-vram:\t7 KiB\ndrm-memory-gtt:\t2048 KiB\n" +
			"drm-engine-gfx:\t12 ns\ndrm-engine-compute:\t1000000000 ns\ndrm-engine-dma:\t5 ns\n",
		"drm-driver:\tamdgpu\ndrm-client-id:\t4\ndrm-pdev:\t0000:03:00.0\ndrm-total-vram:\t131072 KiB\ndrm-resident-vram:\t65536 KiB\n",
		head + "pdev:\t0000:03:00.0\npasid:\t32769\nvram mem:\t262144 kB\ngtt mem:\t16384 kB\ncpu mem:\t0 kB\ngfx0:\t3.2%\n",
		"drm-driver:\tamdgpu\ndrm-pdev:\t0000:05:00.0\ndrm-engine-compute:\t8 ns\ndrm-engine-capacity-compute:\t4\ndrm-engine-capacity-gfx:\t1\n",
		"drm-driver:\ti915\ndrm-client-id:\t5\ndrm-pdev:\t0000:00:02.0\ndrm-engine-render:\t123456 ns\n",
		"drm-memory-vram:\t18446744073709551615 KiB\n",
		"drm-engine-gfx:\t12\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		const file = "/proc/1/fdinfo/4"
		var c drmClient
		if err := parseFdinfo(file, b, &c); err != nil {
			var pe *hostfs.ParseError
			if !errors.As(err, &pe) || pe.File != file || pe.Line < 1 || pe.Msg == "" {
				t.Fatalf("error %v (%T) is not located", err, err)
			}
			return
		}
		if c.hasVRAM {
			want, ok := firstVRAM(b)
			if !ok || want != c.vram {
				t.Fatalf("vram %d, a plain reading says %d (%v)", c.vram, want, ok)
			}
		}
		if c.pdev != nil && !bytes.Contains(b, c.pdev) {
			t.Fatalf("pdev %q is not in the file", c.pdev)
		}
		if c.hasID && !bytes.Contains(b, []byte("drm-client-id:")) && !bytes.Contains(b, []byte("pasid:")) {
			t.Fatalf("an id from nowhere: %+v", c)
		}
		if (c.gfxCap == 0 && bytes.Contains(b, []byte("\ndrm-engine-capacity-gfx:"))) || (c.hasGfx && !bytes.Contains(b, []byte("drm-engine-gfx:"))) {
			t.Fatalf("engine keys misread: %+v", c)
		}
	})
}

// firstVRAM reads the VRAM a client holds as the kernel documents it: the
// first value of the most preferred key present.
func firstVRAM(b []byte) (uint64, bool) {
	for _, key := range []string{"drm-memory-vram", "drm-resident-vram", "drm-total-vram", "vram mem"} {
		for _, line := range bytes.Split(b, []byte("\n")) {
			k, v, ok := bytes.Cut(line, []byte(":"))
			if ok && string(k) == key {
				return parseSize(bytes.TrimSpace(v))
			}
		}
	}
	return 0, false
}
