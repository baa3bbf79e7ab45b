package alerting

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
)

// Alert states as notifications spell them.
const (
	statusFiring   = "firing"
	statusResolved = "resolved"
)

// alert is one alert as the dispatcher and the receivers see it: what
// Prometheus sends to an Alertmanager, plus the value of the alert's
// expression. An alert is never modified once handed to the dispatcher;
// an update replaces it.
type alert struct {
	Labels       labels.Labels
	Annotations  labels.Labels
	StartsAt     time.Time
	EndsAt       time.Time
	GeneratorURL string
	Value        float64
	fp           model.Fingerprint
}

// resolved reports whether the alert has ended at now.
func (a *alert) resolved(now time.Time) bool {
	return !a.EndsAt.IsZero() && !a.EndsAt.After(now)
}

// fingerprint is Alertmanager's fingerprint of a label set.
func fingerprint(ls labels.Labels) model.Fingerprint {
	ms := make(model.LabelSet, ls.Len())
	ls.Range(func(l labels.Label) { ms[model.LabelName(l.Name)] = model.LabelValue(l.Value) })
	return ms.Fingerprint()
}

// msgAlert is one alert of a notification with its status at the time.
type msgAlert struct {
	*alert
	Status string
}

// message is one notification to one receiver: Alertmanager's template
// data for a group.
type message struct {
	Receiver          string
	GroupKey          string
	Status            string
	GroupLabels       labels.Labels
	CommonLabels      labels.Labels
	CommonAnnotations labels.Labels
	ExternalURL       string
	Alerts            []msgAlert
	NumFiring         int
	NumResolved       int
}

// newMessage builds the notification of alerts (firing first, each part
// sorted by labels) for a receiver.
func newMessage(receiver, groupKey string, groupLabels labels.Labels, externalURL string, alerts []*alert, now time.Time) *message {
	m := &message{
		Receiver:    receiver,
		GroupKey:    groupKey,
		GroupLabels: groupLabels,
		ExternalURL: externalURL,
		Status:      statusResolved,
	}
	for _, a := range alerts {
		st := statusFiring
		if a.resolved(now) {
			st = statusResolved
			m.NumResolved++
		} else {
			m.NumFiring++
			m.Status = statusFiring
		}
		m.Alerts = append(m.Alerts, msgAlert{alert: a, Status: st})
	}
	slices.SortStableFunc(m.Alerts, func(a, b msgAlert) int {
		if a.Status != b.Status {
			if a.Status == statusFiring {
				return -1
			}
			return 1
		}
		return labels.Compare(a.Labels, b.Labels)
	})
	m.CommonLabels = common(m.Alerts, func(a msgAlert) labels.Labels { return a.Labels })
	m.CommonAnnotations = common(m.Alerts, func(a msgAlert) labels.Labels { return a.Annotations })
	return m
}

// common returns the pairs that every alert has with the same value.
func common(as []msgAlert, get func(msgAlert) labels.Labels) labels.Labels {
	if len(as) == 0 {
		return labels.EmptyLabels()
	}
	b := labels.NewScratchBuilder(0)
	get(as[0]).Range(func(l labels.Label) {
		for _, a := range as[1:] {
			if get(a).Get(l.Name) != l.Value {
				return
			}
		}
		b.Add(l.Name, l.Value)
	})
	return b.Labels()
}

// title is Alertmanager's default subject line:
// "[FIRING:2] GroupLabelValues (CommonLabelValues not in the group)".
func (m *message) title() string {
	var b strings.Builder
	b.WriteString("[")
	b.WriteString(strings.ToUpper(m.Status))
	if m.Status == statusFiring {
		fmt.Fprintf(&b, ":%d", m.NumFiring)
	}
	b.WriteString("]")
	var vals []string
	m.GroupLabels.Range(func(l labels.Label) { vals = append(vals, l.Value) })
	if len(vals) > 0 {
		b.WriteString(" ")
		b.WriteString(strings.Join(vals, " "))
	}
	var extra []string
	m.CommonLabels.Range(func(l labels.Label) {
		if !m.GroupLabels.Has(l.Name) {
			extra = append(extra, l.Value)
		}
	})
	if len(extra) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(extra, " "))
		b.WriteString(")")
	}
	return b.String()
}

// summary returns the annotation that best describes an alert in one line:
// summary, then description, then message; "" when none.
func summary(a *alert) string {
	for _, n := range []string{"summary", "description", "message"} {
		if v := a.Annotations.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// pairs formats labels as name=value, comma separated, without alertname.
func pairs(ls labels.Labels) string {
	var out []string
	ls.Range(func(l labels.Label) {
		if l.Name != model.AlertNameLabel {
			out = append(out, l.Name+"="+l.Value)
		}
	})
	return strings.Join(out, ", ")
}

// formatTime is the time format of the e-mail and Slack texts.
func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 MST") }

// formatValue prints an expression value the way PromQL does.
func formatValue(v float64) string { return model.SampleValue(v).String() }
