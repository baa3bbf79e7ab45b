package system

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/trainwatch/trainwatch/internal/collector"
)

const (
	// timeError is adjtimex(2)'s TIME_ERROR state: the clock is not
	// synchronized.
	timeError = 5
	// staNano is the STA_NANO status bit: offset and jitter are in
	// nanoseconds rather than microseconds.
	staNano = 0x2000
	// ppm16frac scales adjtimex's frequencies (ppm with a 16-bit fraction).
	ppm16frac = 1000000.0 * 65536.0
	// offsetOverflowSeconds: an |offset| above this is a kernel overflow
	// artifact (node_exporter issue 3764).
	offsetOverflowSeconds = 4.0
)

// timexCollector is node_exporter's timex collector: the kernel clock
// discipline (NTP/PTP state) from adjtimex(2).
type timexCollector struct {
	adjtimex func(*syscall.Timex) (int, error)

	offset, freq, maxerror, esterror, status, constant, tick, ppsfreq, jitter, shift,
	stabil, jitcnt, calcnt, errcnt, stbcnt, tai, syncStatus, overflow *collector.Desc

	overflows uint64
}

func newTimex(adjtimex func(*syscall.Timex) (int, error)) *timexCollector {
	g := func(name, help string) *collector.Desc {
		return collector.NewDesc("node_timex_"+name, help, collector.Gauge)
	}
	ctr := func(name, help string) *collector.Desc {
		return collector.NewDesc("node_timex_"+name, help, collector.Counter)
	}
	return &timexCollector{
		adjtimex:   adjtimex,
		offset:     g("offset_seconds", "Time offset in between local system and reference clock."),
		freq:       g("frequency_adjustment_ratio", "Local clock frequency adjustment."),
		maxerror:   g("maxerror_seconds", "Maximum error in seconds."),
		esterror:   g("estimated_error_seconds", "Estimated error in seconds."),
		status:     g("status", "Value of the status array bits."),
		constant:   g("loop_time_constant", "Phase-locked loop time constant."),
		tick:       g("tick_seconds", "Seconds between clock ticks."),
		ppsfreq:    g("pps_frequency_hertz", "Pulse per second frequency."),
		jitter:     g("pps_jitter_seconds", "Pulse per second jitter."),
		shift:      g("pps_shift_seconds", "Pulse per second interval duration."),
		stabil:     g("pps_stability_hertz", "Pulse per second stability, average of recent frequency changes."),
		jitcnt:     ctr("pps_jitter_total", "Pulse per second count of jitter limit exceeded events."),
		calcnt:     ctr("pps_calibration_total", "Pulse per second count of calibration intervals."),
		errcnt:     ctr("pps_error_total", "Pulse per second count of calibration errors."),
		stbcnt:     ctr("pps_stability_exceeded_total", "Pulse per second count of stability limit exceeded events."),
		tai:        g("tai_offset_seconds", "International Atomic Time (TAI) offset."),
		syncStatus: g("sync_status", "Is clock synchronized to a reliable server (1 = yes, 0 = no)."),
		overflow: ctr("offset_overflow_total",
			"Count of adjtimex() offset readings indicating kernel overflow (|offset| > 4s). See https://github.com/prometheus/node_exporter/issues/3764"),
	}
}

func (c *timexCollector) Name() string { return "timex" }

func (c *timexCollector) Collect(_ context.Context, e *collector.Emitter) error {
	var tx syscall.Timex // Modes 0: read only
	state, err := c.adjtimex(&tx)
	if err != nil {
		if errors.Is(err, syscall.EPERM) {
			return fmt.Errorf("adjtimex is not permitted here (seccomp?): %w", collector.ErrNoData)
		}
		return fmt.Errorf("adjtimex: %w", err)
	}
	synced := 1.0
	if state == timeError {
		synced = 0
	}
	divisor := 1e6
	if tx.Status&staNano != 0 {
		divisor = 1e9
	}
	offset := float64(tx.Offset) / divisor
	if offset > offsetOverflowSeconds || offset < -offsetOverflowSeconds {
		c.overflows++
	}
	e.Emit(c.syncStatus, synced)
	e.Emit(c.offset, offset)
	e.Emit(c.overflow, float64(c.overflows))
	e.Emit(c.freq, 1+float64(tx.Freq)/ppm16frac)
	e.Emit(c.maxerror, float64(tx.Maxerror)/1e6)
	e.Emit(c.esterror, float64(tx.Esterror)/1e6)
	e.Emit(c.status, float64(tx.Status))
	e.Emit(c.constant, float64(tx.Constant))
	e.Emit(c.tick, float64(tx.Tick)/1e6)
	e.Emit(c.ppsfreq, float64(tx.Ppsfreq)/ppm16frac)
	e.Emit(c.jitter, float64(tx.Jitter)/divisor)
	e.Emit(c.shift, float64(tx.Shift))
	e.Emit(c.stabil, float64(tx.Stabil)/ppm16frac)
	e.Emit(c.jitcnt, float64(tx.Jitcnt))
	e.Emit(c.calcnt, float64(tx.Calcnt))
	e.Emit(c.errcnt, float64(tx.Errcnt))
	e.Emit(c.stbcnt, float64(tx.Stbcnt))
	e.Emit(c.tai, float64(tx.Tai))
	return nil
}
