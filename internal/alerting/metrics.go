package alerting

import (
	"context"
	"fmt"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/rules"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// Collector reports the rule engine's and the deliveries' health as
// trainwatch_rules_*, trainwatch_rule_*, trainwatch_alerts and
// trainwatch_notifications_* self-metrics.
type Collector struct {
	m *Manager

	reloadOK, reloadTime, groupDuration, evalFailures, alerts *collector.Desc
	sent, failed, dropped                                     *collector.Desc
}

// Collector returns the Manager's self-metrics collector, for the agent's
// collector runner.
func (m *Manager) Collector() *Collector {
	return &Collector{
		m: m,
		reloadOK: collector.NewDesc("trainwatch_rules_last_reload_success",
			"1 if the last load of the rule files succeeded, 0 if it failed (the previous rules keep running).", collector.Gauge),
		reloadTime: collector.NewDesc("trainwatch_rules_last_reload_timestamp_seconds",
			"Unix time of the last load of the rule files, successful or not.", collector.Gauge),
		groupDuration: collector.NewDesc("trainwatch_rule_group_last_duration_seconds",
			"Time the last evaluation of the rule group took; group is FILE;NAME.", collector.Gauge, "group"),
		evalFailures: collector.NewDesc("trainwatch_rule_evaluation_failures_total",
			"Rule evaluations that failed (query or write errors).", collector.Counter),
		alerts: collector.NewDesc("trainwatch_alerts",
			"Active alerts by state.", collector.Gauge, "state"),
		sent: collector.NewDesc("trainwatch_notifications_sent_total",
			"Notifications delivered: for a built-in receiver, messages; for an Alertmanager (receiver is its alert endpoint), alerts, as Prometheus counts them.", collector.Counter, "receiver"),
		failed: collector.NewDesc("trainwatch_notifications_failed_total",
			"Failed delivery attempts (each retry counts): messages for a built-in receiver, alerts for an Alertmanager.", collector.Counter, "receiver"),
		dropped: collector.NewDesc("trainwatch_notifications_dropped_total",
			"Notifications given up (retries exhausted, a permanent error, or a full queue): messages for a built-in receiver, alerts for an Alertmanager.", collector.Counter, "receiver"),
	}
}

// Name implements collector.Collector.
func (c *Collector) Name() string { return "alerting" }

// Collect implements collector.Collector.
func (c *Collector) Collect(_ context.Context, e *collector.Emitter) error {
	m := c.m
	m.mu.Lock()
	ok, at := m.lastOK, m.lastAt
	m.mu.Unlock()
	if !at.IsZero() {
		e.Emit(c.reloadOK, boolFloat(ok))
		e.Emit(c.reloadTime, float64(at.UnixNano())/1e9)
	}
	for _, g := range m.rules.RuleGroups() {
		e.Emit(c.groupDuration, g.GetEvaluationTime().Seconds(), rules.GroupKey(g.File(), g.Name()))
	}
	e.Emit(c.evalFailures, float64(m.evalFailures.Load()))
	var pending, firing int
	for _, r := range m.rules.AlertingRules() {
		r.ForEachActiveAlert(func(a *rules.Alert) {
			switch a.State {
			case rules.StatePending:
				pending++
			case rules.StateFiring:
				firing++
			}
		})
	}
	e.Emit(c.alerts, float64(pending), "pending")
	e.Emit(c.alerts, float64(firing), "firing")
	if m.disp != nil {
		for _, r := range m.disp.receivers {
			e.Emit(c.sent, float64(r.sent.Load()), r.name)
			e.Emit(c.failed, float64(r.failed.Load()), r.name)
			e.Emit(c.dropped, float64(r.dropped.Load()), r.name)
		}
	}
	if m.amReg != nil {
		mfs, err := m.amReg.Gather()
		if err != nil {
			return fmt.Errorf("gathering notifier metrics: %w", err)
		}
		for _, mf := range mfs {
			var d *collector.Desc
			switch mf.GetName() {
			case "prometheus_notifications_sent_total":
				d = c.sent
			case "prometheus_notifications_errors_total":
				d = c.failed
			case "prometheus_notifications_dropped_total":
				d = c.dropped
			default:
				continue
			}
			for _, mt := range mf.GetMetric() {
				e.Emit(d, mt.GetCounter().GetValue(), labelValue(mt, "alertmanager"))
			}
		}
	}
	return nil
}

func labelValue(m *dto.Metric, name string) string {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
