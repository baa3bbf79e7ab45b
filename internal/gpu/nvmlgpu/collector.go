//go:build cgo

package nvmlgpu

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// Collector reads NVIDIA GPUs through NVML. NVML is initialised on the
// first Collect (under a deadline, retried at most every InitRetryInterval
// when it fails) and kept open until Close.
type Collector struct {
	lib nvml.Interface
	cfg Config

	collectMu sync.Mutex // one Collect at a time

	mu          sync.Mutex
	st          *state // non-nil once NVML is up
	closed      bool
	initRunning bool
	initDone    chan struct{}
	initStarted time.Time
	lastTry     time.Time
	initErr     error
	loggedErr   string

	// quiet, when set, is called at the end of a tick in which every GPU
	// was read and no call is in flight (the demo clears its mocks' call
	// records there). Only the Collect goroutine touches it.
	quiet func()
}

// state is what a successful init discovered.
type state struct {
	d           *descs
	driver      string
	nvmlVersion string
	cudaVersion string
	gpus        []*gpu
	sym         symbols
	eventsOnce  sync.Once
	events      *eventReader
	mig         bool
}

// symbols says which newer NVML entry points the loaded library has.
type symbols struct {
	memoryV2, clockEvents, gpm, gpmMig bool
	// Deprecated in NVML 13 (driver 580): checked so that a driver that
	// drops them costs the metric, not a crash (go-nvml #82).
	temperature, violation, appClocks bool
}

// New returns the GPU collector reading lib: nvml.New() in production (see
// NewSystem), a go-nvml mock server in tests. It makes no NVML call.
func New(lib nvml.Interface, cfg Config) (*Collector, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Collector{lib: lib, cfg: cfg}, nil
}

// NewSystem returns the GPU collector for this machine's NVML library
// (libnvidia-ml.so.1, or cfg.LibraryPath).
func NewSystem(cfg Config) (*Collector, error) {
	var opts []nvml.LibraryOption
	if cfg.LibraryPath != "" {
		opts = append(opts, nvml.WithLibraryPath(cfg.LibraryPath))
	}
	return New(nvml.New(opts...), cfg)
}

// Name returns "gpu".
func (c *Collector) Name() string { return Name }

// Collect reads every GPU once, each in its own goroutine under a per-GPU
// deadline taken from ctx (less a margin) and Config.DeviceTimeout.
func (c *Collector) Collect(ctx context.Context, e *collector.Emitter) error {
	if !c.collectMu.TryLock() {
		return errors.New("gpu: the previous collection is still running")
	}
	defer c.collectMu.Unlock()

	st, err := c.ensureInit(ctx)
	if st == nil {
		e.Emit(backendUpDesc, 0, "nvml")
		return err
	}
	e.Emit(backendUpDesc, 1, "nvml")
	e.Emit(st.d.backendInfo, 1, "nvml", st.driver, st.nvmlVersion, st.cudaVersion)
	if !c.cfg.DisableEvents {
		st.eventsOnce.Do(func() { st.events = startEvents(c, st) })
	}
	c.collectGPUs(ctx, st, e)
	return nil
}

// Close stops the event reader and shuts NVML down. A GPU call still stuck
// in the driver is waited for a few seconds; if it does not return, NVML is
// left initialised rather than shut down under it.
func (c *Collector) Close() error {
	c.mu.Lock()
	c.closed = true
	st := c.st
	c.st = nil
	c.mu.Unlock()
	if st == nil {
		return nil
	}
	quiet := true
	if st.events != nil {
		quiet = st.events.stop(3 * time.Second)
	}
	deadline := time.Now().Add(3 * time.Second)
	for _, g := range st.gpus {
		if !g.waitIdle(deadline) {
			quiet = false
		}
	}
	if !quiet {
		c.cfg.Logger.Warn("gpu: NVML calls still stuck at shutdown; leaving NVML initialised")
		return errors.New("gpu: NVML calls still stuck at shutdown")
	}
	for _, g := range st.gpus {
		g.freeSamples()
	}
	if ret := c.lib.Shutdown(); ret != nvml.SUCCESS {
		return fmt.Errorf("gpu: NVML shutdown: %s", ret.Error())
	}
	return nil
}

// ensureInit returns the discovered state, starting or waiting for NVML
// init as needed. Only one init runs at a time; a failed one is retried at
// most every InitRetryInterval.
func (c *Collector) ensureInit(ctx context.Context) (*state, error) {
	now := c.cfg.Now()
	c.mu.Lock()
	if c.st != nil {
		st := c.st
		c.mu.Unlock()
		return st, nil
	}
	if c.closed {
		c.mu.Unlock()
		return nil, errors.New("gpu: collector closed")
	}
	var done chan struct{}
	switch {
	case c.initRunning:
		done = c.initDone
	case !c.lastTry.IsZero() && now.Sub(c.lastTry) < c.cfg.InitRetryInterval:
		err := c.initErr
		c.mu.Unlock()
		return nil, err
	default:
		c.initRunning = true
		c.initStarted = time.Now()
		c.lastTry = now
		done = make(chan struct{})
		c.initDone = done
		go c.runInit(done)
	}
	c.mu.Unlock()

	wait := c.cfg.InitTimeout
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl)-margin(time.Until(dl)))
	}
	t := time.NewTimer(max(wait, 0))
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st != nil {
		return c.st, nil
	}
	if c.initRunning {
		running := time.Since(c.initStarted).Round(time.Millisecond)
		if running < c.cfg.InitTimeout {
			// Slow, not stuck: without persistence mode init takes seconds.
			return nil, fmt.Errorf("gpu: NVML init still running after %s; waiting for it", running)
		}
		return nil, fmt.Errorf("gpu: NVML init has not returned after %s (a wedged driver?); waiting for it, no new attempt meanwhile", running)
	}
	return nil, c.initErr
}

// runInit initialises NVML and discovers the GPUs, in its own goroutine.
func (c *Collector) runInit(done chan struct{}) {
	st, err := c.initialize()
	c.mu.Lock()
	defer c.mu.Unlock()
	defer close(done)
	c.initRunning = false
	if err == nil && c.closed {
		c.lib.Shutdown()
		return
	}
	if err != nil {
		c.initErr = err
		if msg := err.Error(); msg != c.loggedErr {
			c.loggedErr = msg
			if errors.Is(err, collector.ErrNoData) {
				// The Runner logs ErrNoData reasons once itself.
				c.cfg.Logger.Debug("gpu: NVML not available", "reason", msg)
			} else {
				c.cfg.Logger.Warn("gpu: NVML init failed", "err", msg, "retry_every", c.cfg.InitRetryInterval)
			}
		} else {
			c.cfg.Logger.Debug("gpu: NVML init failed again", "err", msg)
		}
		return
	}
	c.st = st
	c.initErr = nil
	c.loggedErr = ""
	c.cfg.Logger.Info("gpu: NVML up", "driver", st.driver, "nvml", st.nvmlVersion, "gpus", len(st.gpus))
}

const defaultLibrary = "libnvidia-ml.so.1"

func (cfg *Config) library() string {
	if cfg.LibraryPath != "" {
		return cfg.LibraryPath
	}
	return defaultLibrary
}

// initError turns an nvmlInit failure into an error that says what to do.
func initError(ret nvml.Return, lib string) error {
	switch ret {
	case nvml.ERROR_LIBRARY_NOT_FOUND:
		return fmt.Errorf("%w: NVML library %s not found: no NVIDIA driver installed (install the NVIDIA driver, or set the gpu collector's library_path to where %s is)",
			collector.ErrNoData, lib, lib)
	case nvml.ERROR_DRIVER_NOT_LOADED:
		return fmt.Errorf("%w: NVIDIA driver not loaded: %s is installed but the nvidia kernel module is not running (load it with 'modprobe nvidia'; dmesg says why it failed)",
			collector.ErrNoData, lib)
	case nvml.ERROR_NO_PERMISSION:
		return fmt.Errorf("gpu: NVML init: no permission to open /dev/nvidiactl and /dev/nvidia*: run trainwatch as a user that may (in a container, pass the devices in)")
	case nvml.ERROR_LIB_RM_VERSION_MISMATCH:
		return fmt.Errorf("gpu: NVML init: %s and the loaded nvidia kernel module are different versions (driver upgraded without a reboot?): reboot, or reload the nvidia modules", lib)
	}
	return fmt.Errorf("gpu: NVML init failed: %s", ret.Error())
}

// initialize runs nvmlInit and discovers the GPUs.
func (c *Collector) initialize() (*state, error) {
	if ret := c.lib.Init(); ret != nvml.SUCCESS {
		return nil, initError(ret, c.cfg.library())
	}
	st, err := c.discover()
	if err != nil {
		c.lib.Shutdown()
		return nil, err
	}
	return st, nil
}

func (c *Collector) discover() (*state, error) {
	st := &state{}
	ext := c.lib.Extensions()
	has := func(sym string) bool { return ext.LookupSymbol(sym) == nil }
	st.sym = symbols{
		memoryV2:    has("nvmlDeviceGetMemoryInfo_v2"),
		clockEvents: has("nvmlDeviceGetCurrentClocksEventReasons") && has("nvmlDeviceGetSupportedClocksEventReasons"),
		gpm: has("nvmlGpmQueryDeviceSupport") && has("nvmlGpmSampleAlloc") &&
			has("nvmlGpmSampleGet") && has("nvmlGpmMetricsGet") && has("nvmlGpmSampleFree"),
		gpmMig:      has("nvmlGpmMigSampleGet"),
		temperature: has("nvmlDeviceGetTemperature"),
		violation:   has("nvmlDeviceGetViolationStatus"),
		appClocks:   has("nvmlDeviceGetApplicationsClock"),
	}
	if v, ret := c.lib.SystemGetDriverVersion(); ret == nvml.SUCCESS {
		st.driver = v
	}
	if v, ret := c.lib.SystemGetNVMLVersion(); ret == nvml.SUCCESS {
		st.nvmlVersion = v
	}
	if v, ret := c.lib.SystemGetCudaDriverVersion(); ret == nvml.SUCCESS {
		st.cudaVersion = strconv.Itoa(v/1000) + "." + strconv.Itoa(v%1000/10)
	}
	n, ret := c.lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("gpu: NVML device count: %s", ret.Error())
	}
	st.gpus = make([]*gpu, n)
	for i := range n {
		st.gpus[i] = c.discoverGPU(st, i)
		if st.gpus[i].migOn {
			st.mig = true
		}
	}
	st.d = newDescs(st.mig)
	for _, g := range st.gpus {
		g.setLabels(st, c)
	}
	return st, nil
}

// margin is how much of the time left before a deadline a tick keeps for
// itself: a tenth, at most 50 ms.
func margin(left time.Duration) time.Duration {
	return min(left/10, 50*time.Millisecond)
}

// collectGPUs reads every GPU in its own goroutine and emits what came back
// in time.
func (c *Collector) collectGPUs(ctx context.Context, st *state, e *collector.Emitter) {
	now := c.cfg.Now()
	deadline := time.Now().Add(c.cfg.DeviceTimeout)
	if dl, ok := ctx.Deadline(); ok {
		if d := dl.Add(-margin(time.Until(dl))); d.Before(deadline) {
			deadline = d
		}
	}
	results := make(chan *gpu, len(st.gpus))
	launched := 0
	for _, g := range st.gpus {
		if g.start(c, now) {
			launched++
			go g.read(c, st, now, results)
		}
	}
	inTime := make([]bool, len(st.gpus))
	received := 0
	if launched > 0 {
		t := time.NewTimer(time.Until(deadline))
	wait:
		for n := 0; n < launched; n++ {
			select {
			case g := <-results:
				inTime[g.index] = true
				received++
			case <-t.C:
				break wait
			case <-ctx.Done():
				break wait
			}
		}
		t.Stop()
	}
	if c.quiet != nil && launched == len(st.gpus) && received == launched {
		c.quiet()
	}
	var xid *xidSnapshot
	if st.events != nil {
		xid = st.events.snapshot()
	}
	for _, g := range st.gpus {
		up := g.finish(c, inTime[g.index], now)
		if up {
			for _, s := range g.out {
				e.Emit(s.d, s.v, s.l...)
			}
		}
		v := 0.0
		if up {
			v = 1
		}
		e.Emit(st.d.up, v, g.upLabels...)
		if up {
			last := uint64(0)
			if xid != nil {
				last = xid.last[g.index]
			}
			code := strconv.FormatUint(last, 10)
			e.Emit(st.d.xidLast, float64(last), append(g.labels[:len(g.labels):len(g.labels)], code, xidMessage(last))...)
		}
	}
	if xid != nil {
		for _, k := range xid.keys {
			g := st.gpus[k.gpu]
			e.Emit(st.d.xidEvents, float64(xid.counts[k]), g.idx, g.uuid, strconv.FormatUint(k.xid, 10))
		}
	}
}
