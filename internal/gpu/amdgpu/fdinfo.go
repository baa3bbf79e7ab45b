package amdgpu

import (
	"bytes"

	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// drmClient is what one DRM file description's fdinfo says
// (Documentation/gpu/drm-usage-stats.rst; amdgpu_fdinfo.c).
type drmClient struct {
	// amdgpu is set for "drm-driver: amdgpu", and for the pre-5.19 amdgpu
	// format, which has no drm-driver key but "pdev" and "vram mem".
	amdgpu bool
	// pdev is the PCI address, aliasing the parsed buffer.
	pdev []byte
	// id identifies the client (drm-client-id; before 5.19 the VM's
	// pasid): several fds, in one process or several, may share it.
	id    uint64
	hasID bool
	// vram is the VRAM the client's buffers occupy, in bytes.
	vram    uint64
	hasVRAM bool
	// gfx and compute are cumulative busy times in ns; capacity is how many
	// engines of the class the time is summed over (1 when not given).
	gfx, compute       uint64
	hasGfx, hasCompute bool
	gfxCap, computeCap uint64
}

// VRAM keys by preference: the key amdgpu has printed since 5.19 (kept as
// an alias of drm-resident-vram since 6.11), the common keys, and the
// pre-5.19 one.
const (
	vramMemory = iota + 1
	vramResident
	vramTotal
	vramOld
)

// parseFdinfo parses one fdinfo file into c (reset first). Lines that are
// not DRM keys are ignored; a DRM key with a malformed value is an error
// naming the file and line.
func parseFdinfo(file string, b []byte, c *drmClient) error {
	*c = drmClient{}
	var oldPdev, oldVRAM bool
	vramRank := 0
	var pasid uint64
	var hasPasid bool
	l := hostfs.NewLines(file, b)
	for l.Next() {
		k, v, ok := bytes.Cut(l.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch string(k) {
		case "drm-driver":
			c.amdgpu = string(v) == "amdgpu"
		case "drm-pdev":
			c.pdev = v
		case "pdev":
			c.pdev, oldPdev = v, true
		case "drm-client-id":
			id, ok := hostfs.ParseUint(v)
			if !ok {
				return l.Errorf("drm-client-id %q is not an unsigned integer", v)
			}
			c.id, c.hasID = id, true
		case "pasid":
			if id, ok := hostfs.ParseUint(v); ok {
				pasid, hasPasid = id, true
			}
		case "drm-memory-vram", "drm-resident-vram", "drm-total-vram", "vram mem":
			rank := vramMemory
			switch string(k) {
			case "drm-resident-vram":
				rank = vramResident
			case "drm-total-vram":
				rank = vramTotal
			case "vram mem":
				rank = vramOld
			}
			n, ok := parseSize(v)
			if !ok {
				return l.Errorf("%s %q is not a size (\"<n> KiB\", \"<n> MiB\" or bytes)", k, v)
			}
			if rank == vramOld {
				oldVRAM = true
			}
			if vramRank == 0 || rank < vramRank {
				c.vram, c.hasVRAM, vramRank = n, true, rank
			}
		case "drm-engine-gfx", "drm-engine-compute":
			num, unit, _ := bytes.Cut(v, []byte(" "))
			ns, ok := hostfs.ParseUint(num)
			if !ok || string(bytes.TrimSpace(unit)) != "ns" {
				return l.Errorf("%s %q is not a busy time (\"<n> ns\")", k, v)
			}
			if string(k) == "drm-engine-gfx" {
				c.gfx, c.hasGfx = ns, true
			} else {
				c.compute, c.hasCompute = ns, true
			}
		case "drm-engine-capacity-gfx", "drm-engine-capacity-compute":
			n, ok := hostfs.ParseUint(v)
			if !ok || n == 0 {
				return l.Errorf("%s %q is not a positive integer", k, v)
			}
			if string(k) == "drm-engine-capacity-gfx" {
				c.gfxCap = n
			} else {
				c.computeCap = n
			}
		}
	}
	if !c.amdgpu && oldPdev && oldVRAM {
		c.amdgpu = true
	}
	if !c.hasID && hasPasid {
		c.id, c.hasID = pasid, true
	}
	return nil
}

// parseSize parses "<n>", "<n> B", "<n> KiB", "<n> kB" (the pre-5.19
// amdgpu unit, also 1024), "<n> MiB" or "<n> GiB" into bytes.
func parseSize(v []byte) (uint64, bool) {
	num, unit, _ := bytes.Cut(v, []byte(" "))
	n, ok := hostfs.ParseUint(num)
	if !ok {
		return 0, false
	}
	var mul uint64
	switch string(bytes.TrimSpace(unit)) {
	case "", "B":
		mul = 1
	case "KiB", "kB":
		mul = 1 << 10
	case "MiB":
		mul = 1 << 20
	case "GiB":
		mul = 1 << 30
	default:
		return 0, false
	}
	if n > (1<<64-1)/mul {
		return 0, false
	}
	return n * mul, true
}
