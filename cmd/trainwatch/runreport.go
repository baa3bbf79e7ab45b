package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/trainwatch/trainwatch/internal/runs"
	"github.com/trainwatch/trainwatch/internal/summary"
)

// runReport is the end-of-run report of "trainwatch run": printed on stderr
// and written by --report as JSON. docs/training.md documents every field.
type runReport struct {
	Run     string `json:"run"`
	Name    string `json:"name"`
	Command string `json:"command"`
	Host    string `json:"host"`
	// Recorded: the agent took the run, so its history has it.
	Recorded bool   `json:"recorded"`
	Agent    string `json:"agent"`
	// Figures: "agent" (read back from the agent's history) or "sampled"
	// (sampled in this process, nothing recorded).
	Figures         string    `json:"figures"`
	SampleInterval  float64   `json:"sample_interval_seconds"`
	Start           time.Time `json:"start"`
	End             time.Time `json:"end"`
	DurationSeconds float64   `json:"duration_seconds"`
	// Status: finished (exit code 0), failed, or not_started.
	Status     string `json:"status"`
	ExitCode   int    `json:"exit_code"`
	Signal     string `json:"signal,omitempty"`
	StartError string `json:"start_error,omitempty"`

	Steps       reportSteps    `json:"steps"`
	Loss        *reportLoss    `json:"loss"`
	MetricsFile *reportFile    `json:"metrics_file"`
	CPU         reportCPU      `json:"cpu"`
	GPUs        []reportGPU    `json:"gpus"`
	GPUHours    float64        `json:"gpu_hours"`
	EnergyKWh   *float64       `json:"energy_kwh"`
	Underutil   reportUnder    `json:"underutilised"`
	Alerts      *[]reportAlert `json:"alerts"`
	Notes       []string       `json:"notes"`
}

// reportSteps is the progress the command logged.
type reportSteps struct {
	// Entries are the metric entries read (output lines and file rows).
	Entries int `json:"entries"`
	// WithStep are the entries that had a step.
	WithStep int    `json:"with_step"`
	Last     *int64 `json:"last"`
	Total    *int64 `json:"total"`
	// StepsPerSecond is the steps made over the time between the first and
	// last step logged (or the last rate logged).
	StepsPerSecond   *float64 `json:"steps_per_second"`
	SamplesPerSecond *float64 `json:"samples_per_second"`
	TokensPerSecond  *float64 `json:"tokens_per_second"`
	// Dropped entries were not sent to the agent (it was too slow).
	Dropped int `json:"dropped"`
	// UnparsedLines came faster than they could be parsed.
	UnparsedLines int64 `json:"unparsed_lines"`
}

// reportLoss is the training loss logged.
type reportLoss struct {
	Key       string      `json:"key"`
	Final     runs.Float  `json:"final"`
	FinalStep *int64      `json:"final_step"`
	Best      *runs.Float `json:"best"`
	BestStep  *int64      `json:"best_step"`
}

// reportFile is the metrics file read (--watch).
type reportFile struct {
	Path   string `json:"path"`
	Format string `json:"format"`
}

// reportCPU is the CPU and memory of the command's process tree.
type reportCPU struct {
	Seconds      float64  `json:"seconds"`
	MeanPercent  *float64 `json:"mean_percent"`
	PeakRSSBytes *int64   `json:"peak_rss_bytes"`
	MaxProcesses int      `json:"max_processes"`
	Samples      int      `json:"samples"`
}

// reportGPU is one GPU the run's processes used.
type reportGPU struct {
	GPU              string   `json:"gpu"`
	UUID             string   `json:"uuid"`
	Model            string   `json:"model,omitempty"`
	InUseSeconds     float64  `json:"in_use_seconds"`
	UtilMean         *float64 `json:"utilization_mean_percent"`
	UtilMax          *float64 `json:"utilization_max_percent"`
	MemMeanBytes     *float64 `json:"memory_used_mean_bytes"`
	MemMaxBytes      *float64 `json:"memory_used_max_bytes"`
	RunMemMaxBytes   *float64 `json:"run_memory_max_bytes"`
	PowerMeanWatts   *float64 `json:"power_mean_watts"`
	PowerMaxWatts    *float64 `json:"power_max_watts"`
	EnergyKWh        *float64 `json:"energy_kwh"`
	UnderutilSeconds float64  `json:"underutilised_seconds"`
}

// reportUnder is how long the run's GPUs sat under-utilised.
type reportUnder struct {
	ThresholdPercent float64 `json:"threshold_percent"`
	// GPUSeconds sums the GPUs' time under the threshold.
	GPUSeconds float64 `json:"gpu_seconds"`
}

// reportAlert is an alert that fired during the run.
type reportAlert struct {
	Name      string            `json:"name"`
	Severity  string            `json:"severity,omitempty"`
	Labels    map[string]string `json:"labels"`
	FirstSeen time.Time         `json:"first_seen"`
	LastSeen  time.Time         `json:"last_seen"`
	Seconds   float64           `json:"seconds"`
}

// gpuReport builds the GPU entries from the spans each GPU was used and the
// device figures, sorted by index.
func gpuReport(spans map[gpuID]*useSpans, accs map[gpuID]*gpuAcc, models map[gpuID]string) []reportGPU {
	out := make([]reportGPU, 0, len(spans))
	for id, sp := range spans {
		var g reportGPU
		if a := accs[id]; a != nil {
			g = a.figures(sp.duration())
		} else {
			g = reportGPU{InUseSeconds: round3(sp.duration().Seconds())}
		}
		g.GPU, g.UUID, g.Model = id.Index, id.UUID, models[id]
		if sp.maxMem > 0 {
			g.RunMemMaxBytes = ptr(sp.maxMem)
		}
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool {
		a, errA := strconv.Atoi(out[i].GPU)
		b, errB := strconv.Atoi(out[j].GPU)
		if errA == nil && errB == nil && a != b {
			return a < b
		}
		if out[i].GPU != out[j].GPU {
			return out[i].GPU < out[j].GPU
		}
		return out[i].UUID < out[j].UUID
	})
	return out
}

// setGPUs fills the GPU figures of the report.
func (r *runReport) setGPUs(gs []reportGPU) {
	r.GPUs = gs
	r.GPUHours = math.Round(gpuHours(gs)*1e6) / 1e6
	r.EnergyKWh = totalEnergy(gs)
	r.Underutil = reportUnder{ThresholdPercent: underutilPercent}
	for _, g := range gs {
		r.Underutil.GPUSeconds += g.UnderutilSeconds
	}
	r.Underutil.GPUSeconds = round3(r.Underutil.GPUSeconds)
}

// writeText prints the report for a person, each line prefixed
// "trainwatch: ".
func (r *runReport) writeText(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, "trainwatch: "+format+"\n", args...) }
	status := r.Status
	switch {
	case r.Status == "not_started":
		status = "failed to start: " + r.StartError
	case r.Signal != "":
		status += " (" + r.Signal + ")"
	}
	d := time.Duration(r.DurationSeconds * float64(time.Second)).Round(time.Millisecond)
	p("run %s %s in %s, exit code %d", r.Run, status, d, r.ExitCode)

	s := r.Steps
	if s.WithStep > 0 {
		line := fmt.Sprintf("  steps: %d seen, last step %d", s.WithStep, *s.Last)
		if s.Total != nil {
			line += fmt.Sprintf(" of %d", *s.Total)
		}
		if s.StepsPerSecond != nil {
			line += fmt.Sprintf(", %.3g steps/s", *s.StepsPerSecond)
		}
		if s.SamplesPerSecond != nil {
			line += fmt.Sprintf(", %.4g samples/s", *s.SamplesPerSecond)
		}
		if s.TokensPerSecond != nil {
			line += fmt.Sprintf(", %.4g tokens/s", *s.TokensPerSecond)
		}
		p("%s", line)
	} else {
		p("  steps: none seen (%d metric lines)", s.Entries)
	}
	if l := r.Loss; l != nil {
		line := fmt.Sprintf("  loss: last %g", float64(l.Final))
		if l.Best != nil {
			line += fmt.Sprintf(", best %g", float64(*l.Best))
			if l.BestStep != nil {
				line += fmt.Sprintf(" (step %d)", *l.BestStep)
			}
		}
		p("%s", line)
	}
	if f := r.MetricsFile; f != nil {
		p("  metrics file: %s (%s)", f.Path, f.Format)
	}

	if len(r.GPUs) == 0 {
		p("  GPUs: none used by the command's processes")
	} else {
		energy := "energy unknown (no NVML energy counter)"
		if r.EnergyKWh != nil {
			energy = fmt.Sprintf("energy %.3g kWh", *r.EnergyKWh)
		}
		p("  GPUs: %d used, %.3g GPU-hours, %s; under %g%% utilisation for %s in all",
			len(r.GPUs), r.GPUHours, energy, r.Underutil.ThresholdPercent, fmtSeconds(r.Underutil.GPUSeconds))
		for _, g := range r.GPUs {
			p("    %s", g.line())
		}
	}

	c := r.CPU
	cpu := "  CPU: "
	if c.MeanPercent != nil {
		cpu += fmt.Sprintf("mean %.0f%% of a core (%s CPU time)", *c.MeanPercent, fmtSeconds(c.Seconds))
	} else {
		cpu += "unknown"
	}
	if c.PeakRSSBytes != nil {
		cpu += ", peak RSS " + summary.FormatBytes(uint64(*c.PeakRSSBytes))
	}
	switch {
	case c.MaxProcesses == 1:
		cpu += ", 1 process"
	case c.MaxProcesses > 1:
		cpu += fmt.Sprintf(", up to %d processes", c.MaxProcesses)
	}
	p("%s", cpu)

	switch {
	case r.Alerts == nil:
		p("  alerts: not evaluated (no agent)")
	case len(*r.Alerts) == 0:
		p("  alerts: none fired")
	default:
		p("  alerts: %d fired:", len(*r.Alerts))
		for _, a := range *r.Alerts {
			p("    %s", a.line())
		}
	}
	if s.Dropped > 0 {
		p("  %d metric lines dropped (agent too slow)", s.Dropped)
	}
	if s.UnparsedLines > 0 {
		p("  %d output lines not parsed (printed faster than they could be read)", s.UnparsedLines)
	}
	for _, n := range r.Notes {
		p("  %s", n)
	}
}

func (g reportGPU) line() string {
	name := "gpu " + g.GPU
	if g.Model != "" {
		name += " " + g.Model
	}
	parts := []string{fmtSeconds(g.InUseSeconds) + " in use"}
	if g.UtilMean != nil {
		u := fmt.Sprintf("util mean %.0f%%", *g.UtilMean)
		if g.UtilMax != nil {
			u += fmt.Sprintf(" peak %.0f%%", *g.UtilMax)
		}
		parts = append(parts, u)
	}
	if g.MemMeanBytes != nil || g.MemMaxBytes != nil {
		m := "memory"
		if g.MemMeanBytes != nil {
			m += " mean " + summary.FormatBytes(uint64(*g.MemMeanBytes))
		}
		if g.MemMaxBytes != nil {
			m += " peak " + summary.FormatBytes(uint64(*g.MemMaxBytes))
		}
		parts = append(parts, m)
	}
	if g.RunMemMaxBytes != nil {
		parts = append(parts, "run's processes peak "+summary.FormatBytes(uint64(*g.RunMemMaxBytes)))
	}
	if g.PowerMeanWatts != nil {
		parts = append(parts, fmt.Sprintf("power mean %.0f W", *g.PowerMeanWatts))
	}
	if g.EnergyKWh != nil {
		parts = append(parts, fmt.Sprintf("%.3g kWh", *g.EnergyKWh))
	} else {
		parts = append(parts, "energy unknown")
	}
	if g.UtilMean != nil {
		parts = append(parts, fmt.Sprintf("under %d%% for %s", underutilPercent, fmtSeconds(g.UnderutilSeconds)))
	}
	return name + ": " + strings.Join(parts, ", ")
}

func (a reportAlert) line() string {
	keys := make([]string, 0, len(a.Labels))
	for k := range a.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(a.Name)
	if len(keys) > 0 {
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%s=%q", k, a.Labels[k])
		}
		b.WriteByte('}')
	}
	fmt.Fprintf(&b, " for %s from %s", fmtSeconds(a.Seconds), a.FirstSeen.Local().Format("15:04:05"))
	if a.Severity != "" {
		b.WriteString(" (" + a.Severity + ")")
	}
	return b.String()
}

// fmtSeconds writes a duration the way people read it: 850ms, 12.3s, 4m05s,
// 2h03m.
func fmtSeconds(s float64) string {
	switch {
	case s == 0:
		return "0s"
	case s < 1:
		return strconv.Itoa(int(math.Round(s*1000))) + "ms"
	case s < 60:
		return strconv.FormatFloat(math.Round(s*10)/10, 'f', -1, 64) + "s"
	case s < 3600:
		m := int(s) / 60
		return fmt.Sprintf("%dm%02ds", m, int(s)-60*m)
	}
	h := int(s) / 3600
	return fmt.Sprintf("%dh%02dm", h, (int(s)-3600*h)/60)
}

// writeJSON writes the report to path, atomically (a temporary file
// renamed).
func (r *runReport) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the report: %w", err)
	}
	b = append(b, '\n')
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write the report (is the directory of --report %s writable?): %w", path, err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write the report to %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write the report to %s: %w", tmp.Name(), err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write the report: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write the report to %s: %w", path, err)
	}
	return nil
}
