package amdgpu

import (
	"errors"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
	"github.com/trainwatch/trainwatch/internal/procinfo"
)

// procScanner finds the processes using AMD GPUs and what they use, from
// the DRM usage statistics the kernel prints in /proc/PID/fdinfo/FD for
// every open DRM file (kernel 5.14+; the drm-* keys since 5.19).
//
// A scan lists /proc, lists every process's fd directory and reads the
// target of each fd link (one readlinkat each, no allocation), and reads
// the fdinfo of the fds that link to /dev/dri/* only. It runs at most every
// Config.ProcessInterval; its samples are served in between.
type procScanner struct {
	roots    hostfs.Roots
	reader   *procinfo.Reader
	interval time.Duration
	topN     int

	lastScan time.Time
	prev     map[clientKey]engineSample
	samples  []procSample
	counts   []procCount

	// Scratch space reused by every scan.
	fds     fdScratch
	drmFDs  []string
	buf     []byte
	client  drmClient
	clients map[clientKey]*clientObs
	infos   map[int]procinfo.Info

	// stats of the last scan, for tests and the benchmark.
	stats scanStats
}

type scanStats struct {
	pids, fdDirs, drmFDs, clients int
	// errs counts fdinfo and process files that could not be parsed;
	// lastErr is the last of them.
	errs    int
	lastErr error
}

// clientKey identifies a DRM client: the GPU and the client id, which the
// kernel never reuses while the driver is loaded.
type clientKey struct {
	pci string
	id  uint64
}

// engineSample is a client's busy-time counters at a scan.
type engineSample struct {
	gfx, compute uint64
	at           time.Time
}

// clientObs is a client seen in this scan.
type clientObs struct {
	card               *card
	vram               uint64
	hasVRAM            bool
	gfx, compute       uint64
	hasGfx, hasCompute bool
	gfxCap, computeCap uint64
	// owner is the process the client is attributed to: of the processes
	// holding it (a fork inherits its parent's fds), the one that started
	// first, which opened it.
	owner      int
	ownerStart time.Time
}

// procCount is the number of processes using a GPU, before the top-N cut.
type procCount struct {
	cardIndex int
	labels    []string // gpu, UUID
	n         int
}

// procSample is one process's use of one GPU.
type procSample struct {
	cardIndex        int
	pid              int
	labels           []string
	vram             float64
	hasVRAM, hasUtil bool
	util             float64
}

func newProcScanner(roots hostfs.Roots, reader *procinfo.Reader, cfg Config) *procScanner {
	return &procScanner{
		roots:    roots,
		reader:   reader,
		interval: cfg.ProcessInterval,
		topN:     cfg.ProcessTopN,
		prev:     make(map[clientKey]engineSample),
		clients:  make(map[clientKey]*clientObs),
		infos:    make(map[int]procinfo.Info),
		fds:      newFDScratch(),
	}
}

// due reports whether a scan is due at now; a tenth of slack keeps tick
// jitter from skipping a whole period.
func (s *procScanner) due(now time.Time) bool {
	return s.lastScan.IsZero() || now.Before(s.lastScan) || now.Sub(s.lastScan) >= s.interval-s.interval/10
}

// devDRI is the prefix of the DRM device nodes' paths.
var devDRI = []byte("/dev/dri/")

// scan walks /proc. It does not stop at the tick's deadline: a scan cut
// short would have to start over, and the Runner keeps a late result.
func (s *procScanner) scan(now time.Time, byPCI map[string]*card) {
	procDir := s.roots.ProcPath()
	names, err := s.roots.ReadDirNames(procDir)
	if err != nil {
		s.stats.lastErr = err
		return
	}
	s.stats = scanStats{}
	clear(s.clients)
	clear(s.infos)
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil || pid <= 0 {
			continue
		}
		s.stats.pids++
		s.scanPID(pid, n, byPCI)
	}
	s.aggregate(now, byPCI)
	s.lastScan = now
}

// scanPID reads the DRM fds of one process.
func (s *procScanner) scanPID(pid int, name string, byPCI map[string]*card) {
	fdDir := s.roots.ProcPath(name, "fd")
	if s.roots.Trace != nil {
		s.roots.Note("dir:" + fdDir)
	}
	var err error
	s.drmFDs, err = s.fds.drmFDs(fdDir, s.drmFDs[:0], s.roots)
	if err != nil {
		// Gone, a kernel thread, or another user's process when not root.
		return
	}
	s.stats.fdDirs++
	for _, fd := range s.drmFDs {
		s.stats.drmFDs++
		path := s.roots.ProcPath(name, "fdinfo", fd)
		b, err := s.roots.ReadFile(path, s.buf)
		s.buf = b
		if err != nil {
			continue // closed meanwhile
		}
		c := &s.client
		if err := parseFdinfo(path, b, c); err != nil {
			s.stats.errs++
			s.stats.lastErr = err
			continue
		}
		if !c.amdgpu {
			continue
		}
		cd := byPCI[string(c.pdev)]
		if cd == nil {
			continue // not a card found at discovery
		}
		info, ok := s.lookup(pid)
		if !ok {
			return
		}
		key := clientKey{pci: cd.pciAddr, id: c.id}
		if !c.hasID {
			// No client id to deduplicate with: one client per fd.
			n, _ := strconv.ParseUint(fd, 10, 31)
			key.id = 1<<63 | uint64(pid)<<32 | n
		}
		if o, seen := s.clients[key]; seen {
			if info.StartTime.Before(o.ownerStart) || info.StartTime.Equal(o.ownerStart) && pid < o.owner {
				o.owner, o.ownerStart = pid, info.StartTime
			}
			continue
		}
		s.clients[key] = &clientObs{
			card: cd, vram: c.vram, hasVRAM: c.hasVRAM,
			gfx: c.gfx, compute: c.compute, hasGfx: c.hasGfx, hasCompute: c.hasCompute,
			gfxCap: c.gfxCap, computeCap: c.computeCap,
			owner: pid, ownerStart: info.StartTime,
		}
	}
}

// lookup returns who pid is, once per scan; ok is false when the process
// is gone. A process whose files do not parse is still reported, with its
// pid only.
func (s *procScanner) lookup(pid int) (procinfo.Info, bool) {
	if info, ok := s.infos[pid]; ok {
		return info, info.PID != 0
	}
	info, err := s.reader.Lookup(pid)
	switch {
	case errors.Is(err, os.ErrNotExist):
		s.infos[pid] = procinfo.Info{}
		return info, false
	case err != nil:
		s.stats.errs++
		s.stats.lastErr = err
		info = procinfo.Info{PID: pid}
	}
	s.infos[pid] = info
	return info, true
}

// aggregate turns the clients seen into per-process samples: VRAM summed
// over a process's clients on a GPU, utilisation from the busy-time
// counters' growth since the previous scan.
func (s *procScanner) aggregate(now time.Time, byPCI map[string]*card) {
	type aggKey struct {
		card *card
		pid  int
	}
	aggs := make(map[aggKey]*procSample)
	prev := make(map[clientKey]engineSample, len(s.clients))
	for key, o := range s.clients {
		s.stats.clients++
		k := aggKey{o.card, o.owner}
		a := aggs[k]
		if a == nil {
			a = &procSample{cardIndex: o.card.index, pid: o.owner}
			aggs[k] = a
		}
		if o.hasVRAM {
			a.vram += float64(o.vram)
			a.hasVRAM = true
		}
		if !o.hasGfx && !o.hasCompute {
			continue
		}
		if p, ok := s.prev[key]; ok && now.After(p.at) && o.gfx >= p.gfx && o.compute >= p.compute {
			dt := float64(now.Sub(p.at).Nanoseconds())
			g := float64(o.gfx-p.gfx) / dt / float64(max(o.gfxCap, 1))
			c := float64(o.compute-p.compute) / dt / float64(max(o.computeCap, 1))
			a.util += 100 * max(g, c)
			a.hasUtil = true
		}
		prev[key] = engineSample{gfx: o.gfx, compute: o.compute, at: now}
	}
	s.prev = prev

	s.samples = s.samples[:0]
	perCard := make(map[*card]int, len(byPCI))
	for _, cd := range byPCI {
		perCard[cd] = 0
	}
	for k, a := range aggs {
		if a.vram == 0 && a.util == 0 {
			continue // opened the GPU, holds nothing (a probe, a compositor's idle context)
		}
		perCard[k.card]++
		a.util = min(a.util, 100)
		info := s.infos[a.pid]
		a.labels = []string{k.card.labels[0], k.card.labels[1], strconv.Itoa(a.pid), info.Command, info.User,
			info.Container, info.Pod, info.Namespace, info.SlurmJob}
		s.samples = append(s.samples, *a)
	}
	sort.Slice(s.samples, func(i, j int) bool {
		a, b := &s.samples[i], &s.samples[j]
		switch {
		case a.cardIndex != b.cardIndex:
			return a.cardIndex < b.cardIndex
		case a.vram != b.vram:
			return a.vram > b.vram
		case a.util != b.util:
			return a.util > b.util
		}
		return a.pid < b.pid
	})
	// Keep the first topN of each GPU.
	out, n := s.samples[:0], 0
	for i := range s.samples {
		if i > 0 && s.samples[i].cardIndex != s.samples[i-1].cardIndex {
			n = 0
		}
		if n < s.topN {
			out = append(out, s.samples[i])
		}
		n++
	}
	s.samples = out

	s.counts = s.counts[:0]
	for cd, n := range perCard {
		s.counts = append(s.counts, procCount{cardIndex: cd.index, labels: cd.labels[:2:2], n: n})
	}
	sort.Slice(s.counts, func(i, j int) bool { return s.counts[i].cardIndex < s.counts[j].cardIndex })
}

// emit serves the last scan's samples.
func (s *procScanner) emit(e *collector.Emitter, d descs) {
	for _, c := range s.counts {
		e.Emit(d.procCount, float64(c.n), c.labels...)
	}
	for i := range s.samples {
		p := &s.samples[i]
		if p.hasVRAM {
			e.Emit(d.procMemory, p.vram, p.labels...)
		}
		if p.hasUtil {
			e.Emit(d.procUtil, p.util, p.labels...)
		}
	}
}
