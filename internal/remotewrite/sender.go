package remotewrite

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
)

// maxRetryAfter caps how long a Retry-After header may make the sender wait.
const maxRetryAfter = 5 * time.Minute

// reader reads the queue's records for the sender. Only the sender
// goroutine uses it.
type reader struct {
	dir     string
	seg     uint64 // 0: not positioned
	f       *os.File
	off     int64  // the next record to read
	skip    uint32 // samples of the record at off already acknowledged
	dec     decoder
	hdr     [frameHeaderSize]byte
	payload []byte

	// The current record, decoded and partly taken.
	have    bool
	recOff  int64
	recEnd  int64
	recMinT int64
	samples []decodedSample
	next    int
}

func (r *reader) close() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
	r.seg, r.have = 0, false
}

// position opens the segment of c and reads its series definitions up to
// c's record.
func (r *reader) position(c cursor) error {
	r.close()
	f, err := os.Open(segmentPath(r.dir, c.Segment))
	if err != nil {
		return err
	}
	r.f, r.seg, r.off, r.skip = f, c.Segment, segmentHeaderSize, 0
	r.dec.reset()
	for r.off < c.Offset {
		h, payload, err := r.readFrame(c.Offset)
		if err != nil {
			return err
		}
		if _, err := r.dec.decode(h, payload, false); err != nil {
			return err
		}
		r.off += frameHeaderSize + int64(h.length)
	}
	r.skip = c.Sample
	return nil
}

// readFrame reads and checks the record at r.off, which must end by limit.
func (r *reader) readFrame(limit int64) (frameHeader, []byte, error) {
	if limit-r.off < frameHeaderSize {
		return frameHeader{}, nil, fmt.Errorf("%w: truncated record header at offset %d", errCorrupt, r.off)
	}
	if _, err := r.f.ReadAt(r.hdr[:], r.off); err != nil {
		return frameHeader{}, nil, fmt.Errorf("reading record at offset %d: %w", r.off, err)
	}
	h := parseFrameHeader(r.hdr[:])
	if h.length > maxPayload || r.off+frameHeaderSize+int64(h.length) > limit {
		return frameHeader{}, nil, fmt.Errorf("%w: bad length %d at offset %d", errCorrupt, h.length, r.off)
	}
	if cap(r.payload) < int(h.length) {
		r.payload = make([]byte, h.length)
	}
	p := r.payload[:h.length]
	if _, err := r.f.ReadAt(p, r.off+frameHeaderSize); err != nil {
		return frameHeader{}, nil, fmt.Errorf("reading record at offset %d: %w", r.off, err)
	}
	if !checkFrame(r.hdr[:], p) {
		return frameHeader{}, nil, fmt.Errorf("%w: checksum mismatch at offset %d", errCorrupt, r.off)
	}
	return h, p, nil
}

// batch is one request being built or sent.
type batch struct {
	req       prompb.WriteRequest
	index     map[uint32]int // series id → position in req.Timeseries
	seg       uint64
	n         int
	completes int64 // records whose last sample is in this batch
	minT      int64
	end       cursor // where the cursor goes once the batch is resolved
	raw, body []byte
}

func newBatch() *batch { return &batch{index: make(map[uint32]int)} }

func (b *batch) reset() {
	b.req.Timeseries = b.req.Timeseries[:0]
	clear(b.index)
	b.seg, b.n, b.completes, b.minT, b.end = 0, 0, 0, 0, cursor{}
}

// add appends one sample to its series' entry, creating it when needed.
func (b *batch) add(id uint32, ls []prompb.Label, t int64, v float64) {
	i, ok := b.index[id]
	if !ok {
		i = len(b.req.Timeseries)
		if i < cap(b.req.Timeseries) {
			b.req.Timeseries = b.req.Timeseries[:i+1]
			ts := &b.req.Timeseries[i]
			ts.Labels, ts.Samples = ls, ts.Samples[:0]
		} else {
			b.req.Timeseries = append(b.req.Timeseries, prompb.TimeSeries{Labels: ls})
		}
		b.index[id] = i
	}
	ts := &b.req.Timeseries[i]
	ts.Samples = append(ts.Samples, prompb.Sample{Value: v, Timestamp: t})
	b.n++
}

// encode sorts each series' samples by time (they already are unless the
// clock went back) and returns the snappy-compressed protobuf request.
func (b *batch) encode() ([]byte, error) {
	byTime := func(x, y prompb.Sample) int { return cmp.Compare(x.Timestamp, y.Timestamp) }
	for i := range b.req.Timeseries {
		if s := b.req.Timeseries[i].Samples; !slices.IsSortedFunc(s, byTime) {
			slices.SortStableFunc(s, byTime)
		}
	}
	size := b.req.Size()
	if cap(b.raw) < size {
		b.raw = make([]byte, size)
	}
	n, err := b.req.MarshalToSizedBuffer(b.raw[:size])
	if err != nil {
		return nil, fmt.Errorf("encoding write request: %w", err)
	}
	b.body = snappy.Encode(b.body[:cap(b.body)], b.raw[size-n:size])
	return b.body, nil
}

// outcome is how a batch was resolved.
type outcome int

const (
	sent outcome = iota
	dropped4xx
)

// sender is the state of one Run.
type sender struct {
	w *Writer
	r *reader
	b *batch
	// Outage: the first failure of the current run of failures.
	failing      bool
	failingSince time.Time
	failures     int
	// 4xx logging: at most one line a minute.
	last4xxLog  time.Time
	unlogged4xx int
}

// Run sends the queue to the receiver until ctx is done or Close is
// called. It reads from the first unacknowledged sample, merges
// consecutive records into requests of up to max_samples_per_send
// samples, and retries failed requests with exponential backoff. When the
// queue is empty it waits for Enqueue. Only one Run may run at a time; a
// second call returns at once.
func (w *Writer) Run(ctx context.Context) {
	w.mu.Lock()
	if w.closed || w.runDone != nil {
		w.mu.Unlock()
		if !w.closed {
			w.logger.Error("remote write: Run called while it is already running")
		}
		return
	}
	done := make(chan struct{})
	w.runDone = done
	w.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() {
		select {
		case <-w.stop:
			cancel()
		case <-stopped:
		}
	}()
	s := &sender{w: w, r: &reader{dir: w.dir}, b: newBatch()}
	defer func() {
		close(stopped)
		cancel()
		s.r.close()
		w.mu.Lock()
		w.inflight = inflight{}
		w.runDone = nil
		w.mu.Unlock()
		close(done)
	}()
	for ctx.Err() == nil {
		if w.nextBatch(s.r, s.b) == 0 {
			select {
			case <-w.notify:
			case <-ctx.Done():
			}
			continue
		}
		body, err := s.b.encode()
		if err != nil {
			// Cannot happen with well-formed data; do not wedge the queue.
			w.logger.Error("remote write: dropping a batch that cannot be encoded", "err", err)
			w.resolve(s.b, dropped4xx)
			continue
		}
		s.send(ctx, body)
	}
}

// send posts body until the receiver accepts or refuses it, or ctx ends.
func (s *sender) send(ctx context.Context, body []byte) {
	w := s.w
	backoff := time.Duration(w.cfg.Queue.MinBackoff)
	maxBackoff := time.Duration(w.cfg.Queue.MaxBackoff)
	for {
		status, retryAfter, msg, err := w.post(ctx, body)
		if ctx.Err() != nil {
			return // shutting down: the batch is sent again after restart
		}
		switch {
		case err == nil && status/100 == 2:
			s.recovered()
			w.resolve(s.b, sent)
			return
		case err == nil && status/100 == 4 && status != http.StatusTooManyRequests:
			s.recovered()
			s.refused(status, msg)
			w.resolve(s.b, dropped4xx)
			return
		}
		s.failed(status, msg, err)
		delay := backoff
		if retryAfter > delay {
			delay = min(retryAfter, maxRetryAfter)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// failed counts a failed attempt and logs the start of an outage.
func (s *sender) failed(status int, msg string, err error) {
	w := s.w
	w.mu.Lock()
	w.c.failedSends++
	pending := w.c.pendingSamples
	w.mu.Unlock()
	s.failures++
	if s.failing {
		return
	}
	s.failing, s.failingSince = true, time.Now()
	reason := err
	if reason == nil {
		reason = fmt.Errorf("HTTP status %d: %s", status, msg)
	}
	w.logger.Warn("remote write: cannot send to the receiver; retrying with backoff until it is back, samples wait in the queue on disk",
		"url", w.cfg.URL, "err", reason, "pending_samples", pending)
}

// recovered logs the end of an outage.
func (s *sender) recovered() {
	if !s.failing {
		return
	}
	w := s.w
	w.mu.Lock()
	pending := w.c.pendingSamples
	w.mu.Unlock()
	w.logger.Info("remote write: the receiver accepts samples again",
		"url", w.cfg.URL, "outage", time.Since(s.failingSince).Round(time.Millisecond).String(),
		"failed_attempts", s.failures, "pending_samples", pending)
	s.failing, s.failures = false, 0
}

// refused logs a request the receiver refused with a 4xx status, at most
// once a minute.
func (s *sender) refused(status int, msg string) {
	s.unlogged4xx++
	if time.Since(s.last4xxLog) < time.Minute {
		return
	}
	s.w.logger.Error("remote write: the receiver refused a request; its samples are dropped (not retried, as Prometheus does)",
		"url", s.w.cfg.URL, "status", status, "response", msg, "samples", s.b.n, "refused_requests", s.unlogged4xx)
	s.last4xxLog, s.unlogged4xx = time.Now(), 0
}

// post sends one request and returns the HTTP status, the Retry-After
// delay and the start of the response body when not 2xx.
func (w *Writer) post(ctx context.Context, body []byte) (status int, retryAfter time.Duration, msg string, err error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(w.cfg.Timeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 0, 0, "", err
	}
	for k, v := range w.cfg.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	req.Header.Set("User-Agent", w.userAgent)
	auth, err := w.cfg.authorization()
	if err != nil {
		return 0, 0, "", err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, 0, "", err
	}
	if resp.StatusCode/100 == 2 {
		drainBody(resp.Body, 0)
		return resp.StatusCode, 0, "", nil
	}
	return resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After")), strings.TrimSpace(drainBody(resp.Body, 512)), nil
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, time.Until(t))
	}
	return 0
}

// nextBatch fills b from the reader: samples from consecutive records of
// one segment, up to max_samples_per_send. It returns the number of
// samples, 0 when nothing is pending.
func (w *Writer) nextBatch(r *reader, b *batch) int {
	maxN := w.cfg.Queue.MaxSamplesPerSend
	for {
		b.reset()
		w.fill(r, b, maxN)
		if b.n == 0 {
			return 0
		}
		w.mu.Lock()
		if _, s := w.findSeg(b.seg); s == nil {
			// Dropped (queue over max_bytes) while we read it.
			w.mu.Unlock()
			r.close()
			continue
		}
		w.inflight = inflight{active: true, seg: b.seg, samples: int64(b.n), completes: b.completes}
		w.headMinT = b.minT
		w.mu.Unlock()
		return b.n
	}
}

// fill reads records into b; see nextBatch.
func (w *Writer) fill(r *reader, b *batch, maxN int) {
	for b.n < maxN {
		if r.have {
			if b.n == 0 {
				b.minT = r.recMinT
			}
			k := min(len(r.samples)-r.next, maxN-b.n)
			for _, s := range r.samples[r.next : r.next+k] {
				b.add(s.id, r.dec.dict[s.id], s.t, s.v)
			}
			r.next += k
			b.seg = r.seg
			if r.next == len(r.samples) {
				r.have, r.off = false, r.recEnd
				b.completes++
				b.end = cursor{Segment: r.seg, Offset: r.off}
			} else {
				b.end = cursor{Segment: r.seg, Offset: r.recOff, Sample: uint32(r.next)}
			}
			continue
		}
		size, next, ok := w.segState(r.seg)
		if !ok {
			// Not positioned yet, or the segment is gone.
			if b.n > 0 {
				return
			}
			c, any := w.resumePoint()
			if !any {
				return
			}
			if err := r.position(c); err != nil {
				w.abandon(r, c.Segment, err)
			}
			continue
		}
		if r.off >= size {
			if next == 0 || b.n > 0 {
				return
			}
			w.finishSegment(r.seg, next)
			if err := r.position(cursor{Segment: next, Offset: segmentHeaderSize}); err != nil {
				w.abandon(r, next, err)
			}
			continue
		}
		if r.f == nil {
			w.abandon(r, r.seg, fmt.Errorf("segment %d is not open", r.seg))
			continue
		}
		h, payload, err := r.readFrame(size)
		var smp []decodedSample
		if err == nil {
			smp, err = r.dec.decode(h, payload, true)
		}
		if err != nil {
			if b.n > 0 {
				return // send what we have; the error comes back next time
			}
			w.abandon(r, r.seg, err)
			continue
		}
		r.have, r.recOff, r.recEnd, r.recMinT = true, r.off, r.off+frameHeaderSize+int64(h.length), h.minT
		r.samples, r.next = smp, min(int(r.skip), len(smp))
		r.skip = 0
	}
}

// findSeg returns the position and the segment of index idx, or nil.
// Called with mu held.
func (w *Writer) findSeg(idx uint64) (int, *segment) {
	i, ok := slices.BinarySearchFunc(w.segs, idx, func(s *segment, idx uint64) int { return cmp.Compare(s.index, idx) })
	if !ok {
		return i, nil
	}
	return i, w.segs[i]
}

// segState returns the complete size of segment idx, the index of the
// segment after it (0 when none) and whether idx exists.
func (w *Writer) segState(idx uint64) (size int64, next uint64, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	i, s := w.findSeg(idx)
	if s == nil {
		return 0, 0, false
	}
	if i+1 < len(w.segs) {
		next = w.segs[i+1].index
	}
	return s.size, next, true
}

// resumePoint is where a reader that lost its segment (or has none)
// starts: the acknowledged position, or the oldest segment when that is
// gone. any is false when there is nothing to read.
func (w *Writer) resumePoint() (c cursor, any bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.segs) == 0 || w.ack.Segment > w.segs[len(w.segs)-1].index {
		return cursor{}, false
	}
	if i, s := w.findSeg(w.ack.Segment); s == nil {
		return cursor{Segment: w.segs[i].index, Offset: segmentHeaderSize}, true
	}
	return w.ack, true
}

// finishSegment deletes segment idx, whose every record was resolved, and
// moves the cursor to the start of segment next.
func (w *Writer) finishSegment(idx, next uint64) {
	w.mu.Lock()
	if i, s := w.findSeg(idx); s != nil {
		w.segs = slices.Delete(w.segs, i, i+1)
		w.total -= s.size
		w.c.pendingSamples -= s.samples - s.doneSamples
		w.c.pendingRecords -= s.records - s.doneRecords
	}
	if w.ack.Segment <= idx {
		w.ack = cursor{Segment: next, Offset: segmentHeaderSize}
		w.ackDirty = true
	}
	w.mu.Unlock()
	_ = w.persistCursor(true) // logged by persistCursor
	if err := os.Remove(segmentPath(w.dir, idx)); err != nil && !os.IsNotExist(err) {
		w.logger.Error("remote write queue: cannot delete a sent segment", "err", err)
	}
}

// abandon gives up the rest of segment idx, which cannot be read: its
// unsent samples are counted as lost to a disk error and the reader is
// placed at its end. When it is the write segment, the next Enqueue starts
// a new one.
func (w *Writer) abandon(r *reader, idx uint64, err error) {
	w.mu.Lock()
	end := int64(segmentHeaderSize)
	var lost int64
	if i, s := w.findSeg(idx); s != nil {
		lost = s.samples - s.doneSamples
		w.c.droppedDisk += uint64(lost)
		w.c.pendingSamples -= lost
		w.c.pendingRecords -= s.records - s.doneRecords
		s.doneSamples, s.doneRecords = s.samples, s.records
		if i == len(w.segs)-1 && w.cur != nil {
			w.forceRoll = true
		}
		end = s.size
		if cursorLess(w.ack, cursor{Segment: idx, Offset: end}) {
			w.ack = cursor{Segment: idx, Offset: end}
			w.ackDirty = true
		}
	}
	w.mu.Unlock()
	w.logger.Error("remote write queue: a segment cannot be read; skipping the rest of it", "segment", idx, "lost_samples", lost, "err", err)
	r.close()
	r.seg, r.off = idx, end
}

// resolve records the outcome of the in-flight batch and advances the
// cursor past it.
func (w *Writer) resolve(b *batch, o outcome) {
	w.mu.Lock()
	n := int64(b.n)
	switch o {
	case sent:
		w.c.sent += uint64(n)
		w.c.lastSend = time.Now()
	case dropped4xx:
		w.c.dropped4xx += uint64(n)
	}
	w.c.pendingSamples -= n
	w.c.pendingRecords -= b.completes
	if _, s := w.findSeg(b.seg); s != nil {
		s.doneSamples += n
		s.doneRecords += b.completes
	}
	w.inflight = inflight{}
	if cursorLess(w.ack, b.end) {
		w.ack, w.ackDirty = b.end, true
	}
	if w.c.pendingSamples == 0 {
		w.headMinT = 0
	}
	w.mu.Unlock()
	// Written at once, so that a crash of the agent resends nothing;
	// fsynced with the segments every few seconds.
	_ = w.persistCursor(false) // logged by persistCursor
}

func cursorLess(a, b cursor) bool {
	if a.Segment != b.Segment {
		return a.Segment < b.Segment
	}
	if a.Offset != b.Offset {
		return a.Offset < b.Offset
	}
	return a.Sample < b.Sample
}
