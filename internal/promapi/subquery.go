package promapi

import (
	"fmt"
	"math"
	"strconv"
	"time"

	v1 "github.com/prometheus/prometheus/web/api/v1"
)

// querySpan returns the time a range query's start and end parameters
// span, read as the API reads them; 0 when they do not parse (the API then
// refuses the query itself).
func querySpan(start, end string) time.Duration {
	s, err1 := apiTime(start)
	e, err2 := apiTime(end)
	if err1 != nil || err2 != nil || !e.After(s) {
		return 0
	}
	return e.Sub(s) // at most 292 years: enough to refuse what matters
}

// apiTime reads a time parameter as the Prometheus API does: Unix seconds,
// RFC 3339, or its own formatting of the beginning and end of time.
func apiTime(s string) (time.Time, error) {
	if t, err := strconv.ParseFloat(s, 64); err == nil {
		s, ns := math.Modf(t)
		ns = math.Round(ns*1000) / 1000
		return time.Unix(int64(s), int64(ns*float64(time.Second))).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	switch s {
	case v1.MinTime.Format(time.RFC3339Nano):
		return v1.MinTime, nil
	case v1.MaxTime.Format(time.RFC3339Nano):
		return v1.MaxTime, nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
}
