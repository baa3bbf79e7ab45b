package tui

import (
	"fmt"
	"sort"
	"strings"

	"github.com/trainwatch/trainwatch/internal/runs"
	"github.com/trainwatch/trainwatch/internal/ui"
)

// noRunsText says why there are no runs to show.
func (m *Model) noRunsText() string {
	if _, local := m.src.(*LocalSource); local {
		return "Runs come from an agent: none in local mode (start `trainwatch serve`, then `trainwatch run -- python train.py`)."
	}
	if m.infoKnown && !m.info.Runs {
		return "This agent keeps no training runs (it runs with --no-history)."
	}
	return "No training runs yet: start one with `trainwatch run -- python train.py`, or log to /api/v1/runs (docs/training.md)."
}

// noAlertsText says why there are no alerts to show.
func (m *Model) noAlertsText() string {
	if _, local := m.src.(*LocalSource); local {
		return "Alerts come from an agent: none in local mode (start `trainwatch serve`)."
	}
	if m.infoKnown && !m.info.Alerting {
		return "Alerting is off on this agent (it runs with --no-history)."
	}
	return "No alerts firing or pending."
}

// orderedRuns are the runs: running first, then stalled, then the
// others, the newest first within each.
func orderedRuns(rs []ui.RunView) []ui.RunView {
	out := append([]ui.RunView(nil), rs...)
	rank := func(s string) int {
		switch s {
		case runs.StatusRunning:
			return 0
		case runs.StatusStalled:
			return 1
		}
		return 2
	}
	sort.SliceStable(out, func(i, j int) bool {
		if a, b := rank(out[i].Status), rank(out[j].Status); a != b {
			return a < b
		}
		return out[i].Start.After(out[j].Start)
	})
	return out
}

// statusText paints a run's status.
func (m *Model) statusText(s string) string {
	switch s {
	case runs.StatusRunning:
		return m.st.ok.on(s)
	case runs.StatusStalled:
		return m.st.warn.on(s)
	case runs.StatusFailed:
		return m.st.crit.on(s)
	}
	return m.st.dim.on(s)
}

// progressText is "12% [████    ] step 2400/20000" ("2400/20000" when
// short).
func (m *Model) progressText(r *ui.RunView, bw int, short bool) string {
	s := ""
	if p, ok := val(r.Progress); ok {
		s = padLeft(fmtPct(100*p), 4) + " " + m.st.accent.on(bar(100*p, bw)) + " "
	}
	if !short {
		s += "step "
	}
	if r.TotalSteps > 0 {
		s += fmt.Sprintf("%d/%d", r.Step, r.TotalSteps)
	} else {
		s += fmt.Sprintf("%d", r.Step)
	}
	return s
}

// rateText is "2.00 steps/s  ETA 2h26m" ("2.0/s ETA 2h26m" when short).
func rateText(r *ui.RunView, short bool) string {
	s := ""
	if r.StepsPerSec > 0 {
		if short {
			s = fmt.Sprintf("%.1f/s", r.StepsPerSec)
		} else {
			s = fmt.Sprintf("%.2f steps/s", r.StepsPerSec)
		}
	}
	if eta, ok := val(r.ETASeconds); ok {
		s += "  ETA " + fmtDuration(eta)
	}
	return strings.TrimSpace(s)
}

// lossText is "loss 1.2345".
func lossText(r *ui.RunView) string {
	if v, ok := r.Metrics["training_loss"]; ok {
		return "loss " + fmtFloat(float64(v))
	}
	return "loss -"
}

// runLines are the overview's runs, at most n (a line says how many more).
func (m *Model) runLines(l layout, n int) []string {
	if len(m.payload.Runs) == 0 {
		return []string{m.label("RUN") + " " + m.st.dim.on(m.noRunsText())}
	}
	bw := 10
	if l.compact {
		bw = 6
	}
	var lines []string
	rs := orderedRuns(m.payload.Runs)
	for i := range rs {
		r := &rs[i]
		if i == n && len(rs) > n+1 {
			lines = append(lines, m.label("")+" "+m.st.dim.on(fmt.Sprintf("… %d more runs (8 Runs)", len(rs)-n)))
			break
		}
		s := m.label("RUN") + " " + m.st.bold.on(clip(r.Name, 24)) + " " + m.statusText(r.Status) + " " + m.progressText(r, bw, l.compact)
		if t := rateText(r, l.compact); t != "" {
			s += " " + t
		}
		s += " " + lossText(r)
		if rest := l.w - width(s) - 1; !l.compact && rest >= 8 {
			s += " " + m.st.accent.on(m.lossSpark(r.ID, min(rest, 40)))
		}
		lines = append(lines, s)
	}
	return lines
}

// alertLines are the overview's alerts, at most n.
func (m *Model) alertLines(l layout, n int) []string {
	as := m.payload.Alerts
	if len(as) == 0 {
		return []string{m.label("ALERT") + " " + m.st.dim.on(m.noAlertsText())}
	}
	var lines []string
	for i, a := range as {
		if i == n && len(as) > n+1 {
			lines = append(lines, m.label("")+" "+m.st.dim.on(fmt.Sprintf("… %d more alerts (9 Alerts)", len(as)-n)))
			break
		}
		lines = append(lines, m.label("ALERT")+" "+m.alertHead(a)+" "+a.Summary)
	}
	return lines
}

// alertHead is "FIRING critical GPUTemperatureHigh".
func (m *Model) alertHead(a ui.Alert) string {
	state := strings.ToUpper(a.State)
	sev := a.Severity
	if sev == "" {
		sev = "-"
	}
	head := state + " " + sev + " " + a.Name
	switch {
	case a.State == "firing" && a.Severity == "critical":
		return m.st.crit.on(head)
	case a.State == "firing":
		return m.st.warn.on(head)
	}
	return m.st.dim.on(head)
}

// runsPanel shows each run: status, progress, throughput, ETA, the loss
// over the whole run, the latest metrics, the job and GPUs.
func (m *Model) runsPanel(l layout) []string {
	if len(m.payload.Runs) == 0 {
		return append([]string{""}, para(m.noRunsText(), l.w, 0, paint{})...)
	}
	now := m.payload.Host.Time
	bw := 30
	if l.compact {
		bw = 16
	}
	var lines []string
	for i, r := range orderedRuns(m.payload.Runs) {
		if i > 0 {
			lines = append(lines, "")
		}
		head := m.st.title.on(r.Name) + "  " + m.statusText(r.Status) + "  " + m.st.dim.on(r.ID)
		when := "started " + ago(r.Start, now)
		if r.End != nil {
			when += ", ended " + ago(*r.End, now)
			if r.ExitCode != nil {
				when += fmt.Sprintf(" (exit %d)", *r.ExitCode)
			}
		}
		head += "  " + when
		if r.Job != "" {
			head += "  job " + r.Job
		}
		if len(r.GPUs) > 0 {
			head += "  GPUs " + strings.Join(r.GPUs, ",")
		}
		lines = append(lines, head)
		prog := "  " + m.progressText(&r, bw, false)
		if r.TotalEpochs > 0 {
			prog += fmt.Sprintf("  epoch %.2f/%g", float64(r.Epoch), r.TotalEpochs)
		} else if r.Epoch > 0 {
			prog += fmt.Sprintf("  epoch %.2f", float64(r.Epoch))
		}
		if t := rateText(&r, false); t != "" {
			prog += "  " + t
		}
		if r.SamplesPS > 0 {
			prog += "  " + fmtCount(r.SamplesPS) + " samples/s"
		}
		if r.TokensPS > 0 {
			prog += "  " + fmtCount(r.TokensPS) + " tokens/s"
		}
		lines = append(lines, prog)
		loss := "  " + lossText(&r)
		vs := m.hist.runLoss(r.ID, nil)
		lo, hi := rangeOf(vs)
		if l.large && len(vs) > 1 {
			gw := l.w - 22
			for j, row := range graph(resample(vs, gw), gw, 4, lo, hi) {
				lead := strings.Repeat(" ", 20)
				switch j {
				case 0:
					lead = pad(loss, 20)
				case 1:
					lead = m.st.dim.on(pad(fmt.Sprintf("  max %s", fmtFloat(hi)), 20))
				case 3:
					lead = m.st.dim.on(pad(fmt.Sprintf("  min %s", fmtFloat(lo)), 20))
				}
				lines = append(lines, lead+"  "+m.st.accent.on(row))
			}
		} else {
			if sw := min(60, l.w-width(loss)-4); sw >= 8 {
				loss += "  " + m.st.accent.on(m.lossSpark(r.ID, sw))
			}
			lines = append(lines, loss)
		}
		lines = append(lines, "  "+m.metricsText(&r))
		if r.Command != "" && !l.compact {
			lines = append(lines, m.st.dim.on("  $ "+r.Command))
		}
	}
	return lines
}

// metricsText lists a run's latest values other than the loss.
func (m *Model) metricsText(r *ui.RunView) string {
	names := make([]string, 0, len(r.Metrics))
	for k := range r.Metrics {
		if k != "training_loss" && k != "samples_per_second" && k != "tokens_per_second" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	// The brief's names first.
	first := map[string]int{"validation_loss": 0, "learning_rate": 1, "batch_processing_time": 2}
	sort.SliceStable(names, func(i, j int) bool {
		a, okA := first[names[i]]
		b, okB := first[names[j]]
		if okA != okB {
			return okA
		}
		return okA && a < b
	})
	if len(names) == 0 {
		return m.st.dim.on("no other metrics")
	}
	parts := make([]string, 0, len(names))
	for _, k := range names {
		parts = append(parts, k+" "+fmtFloat(float64(r.Metrics[k])))
	}
	return strings.Join(parts, "  ")
}

// alertsPanel lists the pending and firing alerts, firing first.
func (m *Model) alertsPanel(l layout) []string {
	as := m.payload.Alerts
	if len(as) == 0 {
		return append([]string{""}, para(m.noAlertsText(), l.w, 0, paint{})...)
	}
	now := m.payload.Host.Time
	var lines []string
	for i, a := range as {
		if i > 0 {
			lines = append(lines, "")
		}
		head := m.alertHead(a)
		if a.ActiveAt != nil {
			head += "  since " + a.ActiveAt.In(m.loc).Format("15:04:05") + " (" + fmtDuration(now.Sub(*a.ActiveAt).Seconds()) + ")"
		}
		head += "  value " + fmtFloat(float64(a.Value))
		lines = append(lines, head)
		if a.Summary != "" {
			lines = append(lines, "  "+a.Summary)
		}
		if a.Description != "" && !l.compact {
			for _, w := range strings.Split(wrap(a.Description, l.w-4), "\n") {
				lines = append(lines, m.st.dim.on("  "+w))
			}
		}
	}
	return lines
}

// lossSpark is run id's loss over the whole run, w cells wide.
func (m *Model) lossSpark(id string, w int) string {
	vs := resample(m.hist.runLoss(id, nil), w)
	lo, hi := rangeOf(vs)
	return sparkline(vs, w, lo, hi)
}
