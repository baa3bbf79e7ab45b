package push

import (
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// The values of Event.Method.
const (
	MethodPut    = "PUT"
	MethodPost   = "POST"
	MethodDelete = "DELETE"
	// MethodExpire is the method of the event Expire sends for a group it
	// removed because it was idle for longer than Options.TTL.
	MethodExpire = "EXPIRE"
)

// Sample is one pushed series and its value: a histogram or summary is
// flattened into its _bucket{le}, {quantile}, _sum and _count samples, as
// Prometheus stores them.
type Sample struct {
	// Name is the series' metric name (the __name__ label): "loss",
	// "tokens_total", "step_seconds_bucket".
	Name string
	// Labels is the series' complete, sorted label set as stored: the
	// body's labels with the grouping key's labels over them (job, run,
	// instance, ...), __name__ included, empty values dropped.
	Labels labels.Labels
	// Value is the pushed value; NaN and ±Inf are kept as pushed.
	Value float64
	// TimestampMs is the sample's own timestamp in milliseconds, or 0 when
	// it has none (the usual case: samples are stored at push time).
	// Only non-zero when Options.AllowTimestamps is set.
	TimestampMs int64
}

// Family is one pushed metric family. Bodies are normalised to the types of
// the text format 0.0.4 as Python's prometheus_client writes them: an
// OpenMetrics counter "foo" becomes the counter family "foo_total" (its
// foo_created samples the gauge family "foo_created"), info becomes a
// gauge "foo_info", stateset a gauge, gaugehistogram the gauges
// foo_bucket, foo_gcount and foo_gsum, and unknown untyped.
type Family struct {
	Name    string
	Type    collector.ValueType
	Help    string
	Samples []Sample
}

// Event describes one accepted change of a group, for Options.OnPush.
// Its slices are shared with the gateway and must not be modified.
type Event struct {
	// Method is MethodPut, MethodPost, MethodDelete or MethodExpire.
	Method string
	// Group is the grouping key: job and the path's other labels, sorted.
	// A label pushed with an empty value is kept here with its empty value.
	Group labels.Labels
	// Time is the push time: the time every pushed sample is stored at.
	Time time.Time
	// Families is what was pushed: for PUT the group's whole new content,
	// for POST the families that replaced those of the same name; empty
	// for DELETE and EXPIRE.
	Families []Family
	// Series is the number of series the group holds after the change
	// (0 after DELETE and EXPIRE).
	Series int
}

// Job returns the group's job label.
func (e *Event) Job() string { return e.Group.Get("job") }

// Run returns the name of the run the push belongs to: the grouping key's
// run label, or else its job.
func (e *Event) Run() string {
	if r := e.Group.Get("run"); r != "" {
		return r
	}
	return e.Job()
}

// Family returns the pushed family with the given name, or nil.
func (e *Event) Family(name string) *Family {
	for i := range e.Families {
		if e.Families[i].Name == name {
			return &e.Families[i]
		}
	}
	return nil
}

// Value returns the value of the first pushed sample named name whose
// labels include every given label name/value pair, e.g.
// ev.Value("loss", "gpu", "0"). ok is false when there is none.
func (e *Event) Value(name string, labelPairs ...string) (v float64, ok bool) {
	for i := range e.Families {
		for j := range e.Families[i].Samples {
			s := &e.Families[i].Samples[j]
			if s.Name == name && hasPairs(s.Labels, labelPairs) {
				return s.Value, true
			}
		}
	}
	return 0, false
}

// Samples calls fn for every pushed sample (of every family) in push order.
func (e *Event) Samples(fn func(s *Sample)) {
	for i := range e.Families {
		for j := range e.Families[i].Samples {
			fn(&e.Families[i].Samples[j])
		}
	}
}

// hasPairs reports whether ls has every name/value pair of pairs.
func hasPairs(ls labels.Labels, pairs []string) bool {
	for k := 0; k+1 < len(pairs); k += 2 {
		if ls.Get(pairs[k]) != pairs[k+1] {
			return false
		}
	}
	return len(pairs)%2 == 0
}

// GroupInfo describes one group for a JSON listing.
type GroupInfo struct {
	// Labels is the grouping key.
	Labels labels.Labels `json:"labels"`
	// LastPush is the time of the last successful PUT or POST (zero if
	// only failures were seen); LastFailure that of the last refused one.
	LastPush    time.Time `json:"last_push"`
	LastFailure time.Time `json:"last_failure,omitzero"`
	// LastError says why the last refused push was refused.
	LastError string `json:"last_error,omitempty"`
	// Families and Series count what the group holds (push_time_seconds
	// and push_failure_time_seconds not included).
	Families int `json:"families"`
	Series   int `json:"series"`
}
