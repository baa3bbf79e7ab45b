package push

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/store"
)

// Defaults of Options.
const (
	DefaultMaxBodyBytes      = 16 << 20
	DefaultMaxSeriesPerGroup = 10_000
	DefaultMaxGroups         = 10_000
	// DefaultMaxLabelsPerSeries bounds the labels of one series, its name
	// and the grouping key's labels included.
	DefaultMaxLabelsPerSeries = 64
	// DefaultMaxLabelNameLength bounds a label name and a metric name, in
	// bytes.
	DefaultMaxLabelNameLength = 1024
	// DefaultMaxLabelValueLength bounds a label value, in bytes.
	DefaultMaxLabelValueLength = 4096
	// DefaultTTL is the expiry the agent's configuration should default
	// to; Options.TTL itself is 0 (never) when not set.
	DefaultTTL = 24 * time.Hour
)

// Options configures a Gateway.
type Options struct {
	// MaxBodyBytes is the largest body accepted, on the wire and again
	// after gzip decompression (a guard against gzip bombs); larger pushes
	// get 413. Default 16 MiB.
	MaxBodyBytes int64
	// MaxSeriesPerGroup is the most series a group may hold after a push
	// (histograms and summaries count each of their series). Default 10,000.
	MaxSeriesPerGroup int
	// MaxGroups is the most groups held at once; a push that would create
	// one more gets 429. Default 10,000.
	MaxGroups int
	// MaxLabelsPerSeries, MaxLabelNameLength and MaxLabelValueLength
	// bound each pushed series (after the grouping key is applied): more
	// labels, a longer label or metric name, or a longer value get 400.
	// Defaults 64, 1024 and 4096 bytes.
	MaxLabelsPerSeries, MaxLabelNameLength, MaxLabelValueLength int
	// TTL is how long after its last push (successful or not) a group is
	// removed by Expire. 0 means never (the Pushgateway's behaviour); the
	// agent's configuration should default to DefaultTTL.
	TTL time.Duration
	// AllowTimestamps accepts samples that carry their own timestamps and
	// stores them at those times. By default they are refused with 400,
	// as the Pushgateway refuses them.
	AllowTimestamps bool
	// Reserved reports whether a metric name belongs to the agent (node_*,
	// DCGM_*, trainwatch_* but trainwatch_run_*, process_*, go_*, up,
	// scrape_*, ...); pushes of such names are refused with 400.
	// push_time_seconds and push_failure_time_seconds are always reserved.
	Reserved func(name string) bool
	// Now returns the current time. Default time.Now.
	Now func() time.Time
	// After is a time (ms) every timestamp the gateway hands out is later
	// than: the newest sample already in the history
	// ((*store.Store).MaxTime), so that the first pushes after a restart
	// are not older than what the agent stored before it (the history
	// refuses them as out of order).
	After int64
	// Logger receives refused pushes (once per group and reason) and
	// storage errors. Default: discard.
	Logger *slog.Logger
	// Append stores every accepted change: the pushed samples, staleness
	// markers for the series that went away, and the group's
	// push_time_seconds and push_failure_time_seconds, all at the push
	// time, with complete sorted label sets. Use (*store.Store).Append.
	// It is called with the gateway's lock held, so that the history
	// sees pushes in the order they were applied. Nil stores nothing.
	Append func(ctx context.Context, batch []store.Appended) error
	// OnPush is called after every accepted PUT, POST and DELETE (also
	// for a DELETE of a group that did not exist) and for every group
	// Expire removes. It is called with the gateway's lock held, in the
	// order of the changes: it must be quick and must not call back into
	// the Gateway.
	OnPush func(ev Event)
}

// Gateway is a Pushgateway-compatible receiver. It is an http.Handler for
// PUT, POST and DELETE under /metrics/job/; see the package documentation.
type Gateway struct {
	o    Options
	self selfDescs

	mu       sync.Mutex
	groups   map[string]*group
	owners   map[string]*owner   // exposed series name -> family holding it
	series   map[uint64]*group   // series hash -> group holding it
	total    int                 // series in all groups
	lastMs   int64               // last timestamp handed out
	gen      uint64              // bumped on every change
	batch    []store.Appended    // reused by appends
	cache    []*collector.Family // Families() of generation cacheGen
	cacheGen uint64

	bufs sync.Pool

	statsMu  sync.Mutex
	requests map[requestKey]uint64
	samples  uint64
	bytes    uint64
}

// group is one grouping key's metrics.
type group struct {
	key    string
	labels labels.Labels
	fams   map[string]*gfam
	series int

	lastPush, lastFailure time.Time
	lastErr               string
	pushVal, failVal      float64
	pushLset, failLset    labels.Labels
}

// gfam is a family held by a group, with its samples' label hashes.
type gfam struct {
	f      *Family
	hashes []uint64
}

// owner says which family, of which type, holds an exposed series name,
// and in how many groups.
type owner struct {
	family string
	typ    collector.ValueType
	refs   int
}

type requestKey struct{ method, code string }

// New returns a Gateway.
func New(o Options) *Gateway {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxSeriesPerGroup <= 0 {
		o.MaxSeriesPerGroup = DefaultMaxSeriesPerGroup
	}
	if o.MaxGroups <= 0 {
		o.MaxGroups = DefaultMaxGroups
	}
	if o.MaxLabelsPerSeries <= 0 {
		o.MaxLabelsPerSeries = DefaultMaxLabelsPerSeries
	}
	if o.MaxLabelNameLength <= 0 {
		o.MaxLabelNameLength = DefaultMaxLabelNameLength
	}
	if o.MaxLabelValueLength <= 0 {
		o.MaxLabelValueLength = DefaultMaxLabelValueLength
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Gateway{
		o:        o,
		lastMs:   max(o.After, 0),
		self:     newSelfDescs(),
		groups:   make(map[string]*group),
		owners:   make(map[string]*owner),
		series:   make(map[uint64]*group),
		requests: make(map[requestKey]uint64),
		bufs:     sync.Pool{New: func() any { return new(bytes.Buffer) }},
	}
}

// httpError is an error with the HTTP status it answers.
type httpError struct {
	code int
	err  error
}

func (e *httpError) Error() string { return e.err.Error() }
func (e *httpError) Unwrap() error { return e.err }

func errorf(code int, format string, args ...any) *httpError {
	return &httpError{code: code, err: fmt.Errorf(format, args...)}
}

// ServeHTTP handles PUT, POST and DELETE /metrics/job/<JOB>{/<LABEL>/<VALUE>}
// (and /metrics/job@base64/...). PUT and POST answer 200, DELETE 202;
// errors answer 4xx (or 503 when the history could not store the push)
// with a plain-text explanation.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	code, err := g.handle(r)
	g.countRequest(r.Method, code)
	if code == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", "PUT, POST, DELETE")
	}
	if err != nil {
		http.Error(w, err.Error(), code)
		return
	}
	w.WriteHeader(code)
}

func (g *Gateway) handle(r *http.Request) (int, error) {
	switch r.Method {
	case http.MethodPut, http.MethodPost, http.MethodDelete:
	default:
		return http.StatusMethodNotAllowed, fmt.Errorf("method %s is not allowed on %s: push with PUT (replaces the group) or POST (replaces the metrics of the same names), delete the group with DELETE", r.Method, r.URL.Path)
	}
	gk, err := ParseGroupingKey(r.URL.Path, r.URL.EscapedPath())
	if errors.Is(err, errNotPushPath) {
		return http.StatusNotFound, err
	}
	if err == nil {
		// The grouping key labels every series of the group, the
		// push_failure_time_seconds of a refused push included.
		if kerr := checkLabels(gk, g.o.MaxLabelsPerSeries-1, g.o.MaxLabelNameLength, g.o.MaxLabelValueLength); kerr != nil {
			err = fmt.Errorf("grouping key: %w", kerr)
		}
	}
	if err != nil {
		g.o.Logger.Debug("push refused: bad path", "path", r.URL.Path, "err", err)
		return http.StatusBadRequest, err
	}
	if r.Method == http.MethodDelete {
		if r.ContentLength > 0 {
			return http.StatusBadRequest, errors.New("a DELETE must have an empty body: send the request without a body")
		}
		if n, _ := io.Copy(io.Discard, io.LimitReader(r.Body, 1)); n > 0 {
			return http.StatusBadRequest, errors.New("a DELETE must have an empty body: send the request without a body")
		}
		g.deleteGroup(context.WithoutCancel(r.Context()), gk)
		return http.StatusAccepted, nil
	}

	raw := g.bufs.Get().(*bytes.Buffer)
	dec := g.bufs.Get().(*bytes.Buffer)
	defer g.putBuf(raw)
	defer g.putBuf(dec)
	c, herr := g.parseRequest(r, gk, raw, dec)
	if herr == nil {
		herr = g.apply(context.WithoutCancel(r.Context()), gk, r.Method, c)
	}
	if herr != nil {
		if herr.code != http.StatusTooManyRequests && herr.code != http.StatusServiceUnavailable {
			g.fail(context.WithoutCancel(r.Context()), gk, herr)
		}
		return herr.code, herr
	}
	return http.StatusOK, nil
}

func (g *Gateway) putBuf(b *bytes.Buffer) {
	if b.Cap() > 4<<20 {
		return // do not keep a large push's buffer around
	}
	b.Reset()
	g.bufs.Put(b)
}

// parseRequest reads, decompresses, parses and checks a PUT or POST body.
func (g *Gateway) parseRequest(r *http.Request, gk labels.Labels, raw, dec *bytes.Buffer) (*checked, *httpError) {
	body, herr := g.readBody(r, raw, dec)
	if herr != nil {
		return nil, herr
	}
	format, err := formatOf(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, &httpError{http.StatusUnsupportedMediaType, err}
	}
	fams, err := newBodyParser(gk, g.o.AllowTimestamps).parse(body, format)
	if err != nil {
		return nil, &httpError{http.StatusBadRequest, err}
	}
	if err := checkLabelLimits(fams, g.o.MaxLabelsPerSeries, g.o.MaxLabelNameLength, g.o.MaxLabelValueLength); err != nil {
		return nil, &httpError{http.StatusBadRequest, err}
	}
	c, err := checkPush(fams, g.o.Reserved)
	if err != nil {
		return nil, &httpError{http.StatusBadRequest, err}
	}
	return c, nil
}

// readBody reads the body into raw (and, if gzip-encoded, decompresses it
// into dec), never past MaxBodyBytes.
func (g *Gateway) readBody(r *http.Request, raw, dec *bytes.Buffer) ([]byte, *httpError) {
	limit := g.o.MaxBodyBytes
	if r.ContentLength > limit {
		return nil, errorf(http.StatusRequestEntityTooLarge, "the body is %d bytes, more than the limit of %d bytes: push fewer series per request", r.ContentLength, limit)
	}
	n, err := raw.ReadFrom(io.LimitReader(r.Body, limit+1))
	g.countBytes(n)
	if n > limit {
		return nil, errorf(http.StatusRequestEntityTooLarge, "the body is more than the limit of %d bytes: push fewer series per request", limit)
	}
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "reading the body: %w", err)
	}
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	if n == 0 {
		enc = "" // an empty body is empty however it is encoded
	}
	switch enc {
	case "", "identity":
		return raw.Bytes(), nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw.Bytes()))
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "the body is not valid gzip (Content-Encoding: gzip): %w", err)
		}
		n, err := dec.ReadFrom(io.LimitReader(zr, limit+1))
		if n > limit {
			return nil, errorf(http.StatusRequestEntityTooLarge, "the gzip body decompresses to more than the limit of %d bytes: push fewer series per request", limit)
		}
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "the body is not valid gzip (Content-Encoding: gzip): %w", err)
		}
		return dec.Bytes(), nil
	default:
		return nil, errorf(http.StatusUnsupportedMediaType, "Content-Encoding %q is not supported: send the body uncompressed or gzip-compressed", enc)
	}
}

// tick returns the timestamp (ms) of a change at now: never the same as,
// nor earlier than, the previous one, so that two quick pushes to one
// group never collide in the history. g.mu held.
func (g *Gateway) tick(now time.Time) int64 {
	t := now.UnixMilli()
	if t <= g.lastMs {
		t = g.lastMs + 1
	}
	g.lastMs = t
	return t
}

// newGroup returns an empty group for a grouping key (not yet registered).
func newGroup(gk labels.Labels) *group {
	b := labels.NewScratchBuilder(gk.Len() + 1)
	gk.Range(func(l labels.Label) {
		if l.Value != "" {
			b.Add(l.Name, l.Value)
		}
	})
	b.Add(model.MetricNameLabel, pushTimeName)
	b.Sort()
	push := b.Labels()
	lb := labels.NewBuilder(push)
	lb.Set(model.MetricNameLabel, pushFailureTimeName)
	return &group{
		key:      gk.String(),
		labels:   gk,
		fams:     make(map[string]*gfam),
		pushLset: push,
		failLset: lb.Labels(),
	}
}

// appendBatch hands g.batch to Options.Append. A partial failure (samples
// the history refused) is logged; any other failure is returned. g.mu held.
func (g *Gateway) appendBatch(ctx context.Context, what string) error {
	if g.o.Append == nil || len(g.batch) == 0 {
		return nil
	}
	err := g.o.Append(ctx, g.batch)
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// staleNaN is Prometheus' staleness marker.
var staleNaN = math.Float64frombits(value.StaleNaN)

// addMarkers appends staleness markers for the samples of f that are not
// in keep (all of them when keep is nil). g.mu held.
func (g *Gateway) addMarkers(gf *gfam, keep *seriesSet, t int64) {
	for j := range gf.f.Samples {
		s := &gf.f.Samples[j]
		if s.TimestampMs != 0 {
			continue // as in Prometheus: no markers for explicit timestamps
		}
		if keep != nil && keep.has(s.Labels, gf.hashes[j]) {
			continue
		}
		g.batch = append(g.batch, store.Appended{Labels: s.Labels, T: t, V: staleNaN})
	}
}

// apply applies a checked PUT or POST to its group, atomically: every
// check is made before anything changes. g.mu is taken.
func (g *Gateway) apply(ctx context.Context, gk labels.Labels, method string, c *checked) *httpError {
	g.mu.Lock()
	defer g.mu.Unlock()
	key := gk.String()
	grp := g.groups[key]
	if grp == nil && len(g.groups) >= g.o.MaxGroups {
		return errorf(http.StatusTooManyRequests, "too many groups: the receiver already holds %d groups, its limit; DELETE the groups of finished runs (or let them expire) or raise the limit", len(g.groups))
	}
	replaced := func(name string) bool { return method == http.MethodPut || c.names[name] }

	n := c.samples
	if grp != nil {
		for name, gf := range grp.fams {
			if !replaced(name) {
				n += len(gf.f.Samples)
			}
		}
	}
	if n > g.o.MaxSeriesPerGroup {
		return errorf(http.StatusBadRequest, "group %s would hold %d series, more than the limit of %d: push fewer series, or split them over several groups with another grouping-key label (e.g. /rank/<N>)", key, n, g.o.MaxSeriesPerGroup)
	}
	if err := g.checkConsistency(grp, c, replaced); err != nil {
		return err
	}

	now := g.o.Now()
	t := g.tick(now)
	g.batch = g.batch[:0]
	for i := range c.fams {
		for j := range c.fams[i].Samples {
			s := &c.fams[i].Samples[j]
			ts := t
			if s.TimestampMs != 0 {
				ts = s.TimestampMs
			}
			g.batch = append(g.batch, store.Appended{Labels: s.Labels, T: ts, V: s.Value})
		}
	}
	fresh := grp == nil
	if fresh {
		grp = newGroup(gk)
	}
	for name, gf := range grp.fams {
		if replaced(name) {
			g.addMarkers(gf, c.set, t)
		}
	}
	pushVal := float64(t) / 1000
	g.batch = append(g.batch,
		store.Appended{Labels: grp.pushLset, T: t, V: pushVal},
		store.Appended{Labels: grp.failLset, T: t, V: grp.failVal})
	if err := g.appendBatch(ctx, "push to "+key); err != nil {
		var ae *store.AppendError
		if errors.As(err, &ae) {
			return errorf(http.StatusBadRequest, "the history refused %d sample(s) of the push, so it was not applied: %w", ae.Rejected, err)
		}
		return errorf(http.StatusServiceUnavailable, "storing the push in the history failed, so it was not applied: %w; retry later", err)
	}

	// Commit.
	if fresh {
		g.groups[key] = grp
	}
	for name, gf := range grp.fams {
		if replaced(name) {
			g.release(grp, gf)
			delete(grp.fams, name)
		}
	}
	for i := range c.fams {
		gf := &gfam{f: &c.fams[i], hashes: c.hashes[i]}
		grp.fams[gf.f.Name] = gf
		g.claim(grp, gf)
	}
	grp.lastPush = time.UnixMilli(t)
	grp.pushVal = pushVal
	g.gen++
	g.statsMu.Lock()
	g.samples += uint64(c.samples)
	g.statsMu.Unlock()
	if g.o.OnPush != nil {
		g.o.OnPush(Event{Method: method, Group: gk, Time: time.UnixMilli(t), Families: c.fams, Series: grp.series})
	}
	return nil
}

// checkConsistency refuses a push whose metrics have another type, or
// whose series names belong to another family, in some group, or whose
// series another group holds. g.mu held.
func (g *Gateway) checkConsistency(grp *group, c *checked, replaced func(string) bool) *httpError {
	for i := range c.fams {
		f := &c.fams[i]
		for _, p := range produced(f.Name, f.Type) {
			o := g.owners[p]
			if o == nil || o.family == f.Name && o.typ == f.Type {
				continue
			}
			refs := o.refs
			if grp != nil {
				if gf := grp.fams[o.family]; gf != nil && gf.f.Type == o.typ && replaced(o.family) {
					refs--
				}
			}
			if refs <= 0 {
				continue
			}
			other := "another group"
			if h := g.holder(o.family, o.typ, grp, replaced); h != nil {
				other = "group " + h.key
			}
			if o.family == f.Name {
				return errorf(http.StatusBadRequest, "metric %q is pushed as %s but is %s in %s: a metric name must have the same type in every group; rename the metric or DELETE that group first", f.Name, withArticle(f.Type), withArticle(o.typ), other)
			}
			return errorf(http.StatusBadRequest, "the %s %q in the push has series named %q, which belong to the %s %q in %s: rename one of them or DELETE that group first", typeName(f.Type), f.Name, p, typeName(o.typ), o.family, other)
		}
	}
	for i := range c.fams {
		for j := range c.fams[i].Samples {
			s := &c.fams[i].Samples[j]
			og := g.series[c.hashes[i][j]]
			if og == nil || og == grp || !og.holds(s.Labels) {
				continue
			}
			return errorf(http.StatusBadRequest, "series %s is already pushed by group %s: two groups must not push the same series; add a distinguishing label or DELETE that group first", s.Labels, og.key)
		}
	}
	return nil
}

// holder returns a group holding family name of type t, not counting the
// families of grp that the push replaces. g.mu held.
func (g *Gateway) holder(name string, t collector.ValueType, grp *group, replaced func(string) bool) *group {
	keys := make([]string, 0, len(g.groups))
	for k := range g.groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		og := g.groups[k]
		gf := og.fams[name]
		if gf == nil || gf.f.Type != t || og == grp && replaced(name) {
			continue
		}
		return og
	}
	return nil
}

// holds reports whether the group holds a series with exactly these labels.
func (grp *group) holds(ls labels.Labels) bool {
	name := ls.Get(model.MetricNameLabel)
	for _, gf := range grp.fams {
		for j := range gf.f.Samples {
			if gf.f.Samples[j].Name == name && labels.Equal(gf.f.Samples[j].Labels, ls) {
				return true
			}
		}
	}
	return false
}

// claim registers a family newly held by grp. g.mu held.
func (g *Gateway) claim(grp *group, gf *gfam) {
	for _, p := range produced(gf.f.Name, gf.f.Type) {
		o := g.owners[p]
		if o == nil {
			o = &owner{family: gf.f.Name, typ: gf.f.Type}
			g.owners[p] = o
		}
		o.refs++
	}
	for _, h := range gf.hashes {
		if _, ok := g.series[h]; !ok {
			// On a (very unlikely) hash collision with another group's
			// series, the first holder stays indexed; only the check for
			// series pushed by two groups can miss it.
			g.series[h] = grp
		}
	}
	grp.series += len(gf.f.Samples)
	g.total += len(gf.f.Samples)
}

// release unregisters a family grp no longer holds. g.mu held.
func (g *Gateway) release(grp *group, gf *gfam) {
	for _, p := range produced(gf.f.Name, gf.f.Type) {
		if o := g.owners[p]; o != nil {
			if o.refs--; o.refs <= 0 {
				delete(g.owners, p)
			}
		}
	}
	for _, h := range gf.hashes {
		if g.series[h] == grp {
			delete(g.series, h)
		}
	}
	grp.series -= len(gf.f.Samples)
	g.total -= len(gf.f.Samples)
}

// removeGroup appends staleness markers for all of grp's series (its
// push_time_seconds and push_failure_time_seconds included) to g.batch and
// drops the group. g.mu held.
func (g *Gateway) removeGroup(grp *group, t int64) {
	for _, gf := range grp.fams {
		g.addMarkers(gf, nil, t)
		g.release(grp, gf)
	}
	g.batch = append(g.batch,
		store.Appended{Labels: grp.pushLset, T: t, V: staleNaN},
		store.Appended{Labels: grp.failLset, T: t, V: staleNaN})
	delete(g.groups, grp.key)
	g.gen++
}

// deleteGroup removes a group (a no-op for a group that does not exist).
func (g *Gateway) deleteGroup(ctx context.Context, gk labels.Labels) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t := g.tick(g.o.Now())
	if grp := g.groups[gk.String()]; grp != nil {
		g.batch = g.batch[:0]
		g.removeGroup(grp, t)
		if err := g.appendBatch(ctx, "delete of "+grp.key); err != nil {
			g.o.Logger.Error("storing the staleness markers of a deleted group failed", "group", grp.key, "err", err)
		}
	}
	if g.o.OnPush != nil {
		g.o.OnPush(Event{Method: MethodDelete, Group: gk, Time: time.UnixMilli(t)})
	}
}

// fail records a refused PUT or POST in the group's
// push_failure_time_seconds, creating the group (with push_time_seconds 0)
// if needed, as the Pushgateway does. Nothing else changes.
func (g *Gateway) fail(ctx context.Context, gk labels.Labels, reason error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	key := gk.String()
	grp := g.groups[key]
	if grp == nil {
		if len(g.groups) >= g.o.MaxGroups {
			g.o.Logger.Warn("push refused", "group", key, "err", reason)
			return
		}
		grp = newGroup(gk)
		g.groups[key] = grp
	}
	t := g.tick(g.o.Now())
	grp.lastFailure = time.UnixMilli(t)
	grp.failVal = float64(t) / 1000
	msg := reason.Error()
	if msg != grp.lastErr {
		g.o.Logger.Warn("push refused; further refusals for the same reason are logged at debug level", "group", key, "err", msg)
	} else {
		g.o.Logger.Debug("push refused", "group", key, "err", msg)
	}
	grp.lastErr = msg
	g.gen++
	g.batch = append(g.batch[:0],
		store.Appended{Labels: grp.pushLset, T: t, V: grp.pushVal},
		store.Appended{Labels: grp.failLset, T: t, V: grp.failVal})
	if err := g.appendBatch(ctx, "failure of "+key); err != nil {
		g.o.Logger.Error("storing push_failure_time_seconds failed", "group", key, "err", err)
	}
}

// Expire removes the groups whose last push (successful or not) is more
// than Options.TTL before now, appends staleness markers for their series
// and sends an EXPIRE event for each. It returns how many groups it
// removed. It does nothing when TTL is 0. Call it every minute or so.
func (g *Gateway) Expire(now time.Time) int {
	if g.o.TTL <= 0 {
		return 0
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var expired []*group
	for _, grp := range g.groups {
		last := grp.lastPush
		if grp.lastFailure.After(last) {
			last = grp.lastFailure
		}
		if now.Sub(last) > g.o.TTL {
			expired = append(expired, grp)
		}
	}
	if len(expired) == 0 {
		return 0
	}
	sort.Slice(expired, func(i, j int) bool { return expired[i].key < expired[j].key })
	t := g.tick(now)
	g.batch = g.batch[:0]
	for _, grp := range expired {
		g.removeGroup(grp, t)
	}
	if err := g.appendBatch(context.Background(), "expiry"); err != nil {
		g.o.Logger.Error("storing the staleness markers of expired groups failed", "groups", len(expired), "err", err)
	}
	for _, grp := range expired {
		g.o.Logger.Info("push group expired", "group", grp.key, "last_push", grp.lastPush, "ttl", g.o.TTL)
		if g.o.OnPush != nil {
			g.o.OnPush(Event{Method: MethodExpire, Group: grp.labels, Time: time.UnixMilli(t)})
		}
	}
	return len(expired)
}

// Groups lists the groups, sorted by grouping key.
func (g *Gateway) Groups() []GroupInfo {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]GroupInfo, 0, len(g.groups))
	for _, grp := range g.groups {
		out = append(out, GroupInfo{
			Labels:      grp.labels,
			LastPush:    grp.lastPush,
			LastFailure: grp.lastFailure,
			LastError:   grp.lastErr,
			Families:    len(grp.fams),
			Series:      grp.series,
		})
	}
	sort.Slice(out, func(i, j int) bool { return labels.Compare(out[i].Labels, out[j].Labels) < 0 })
	return out
}

// countRequest counts a request by method and status code.
func (g *Gateway) countRequest(method string, code int) {
	switch method {
	case http.MethodPut, http.MethodPost, http.MethodDelete:
	default:
		method = "other"
	}
	k := requestKey{method, fmt.Sprint(code)}
	g.statsMu.Lock()
	g.requests[k]++
	g.statsMu.Unlock()
}

func (g *Gateway) countBytes(n int64) {
	g.statsMu.Lock()
	g.bytes += uint64(n)
	g.statsMu.Unlock()
}
