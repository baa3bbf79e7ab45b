package push

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/trainwatch/trainwatch/internal/exposition"
)

// Encodings of a fuzzed request body (FuzzGateway's enc argument).
const (
	encIdentity = iota // sent as is, no Content-Encoding
	encGzip            // gzip-compressed, Content-Encoding: gzip
	encBadGzip         // sent as is, claiming Content-Encoding: gzip
	encOther           // sent as is, Content-Encoding: br
	numEncodings
)

// fuzzContentTypes are the Content-Type headers FuzzGateway picks from by
// number; a number past the list uses the fuzzed string itself.
var fuzzContentTypes = []string{ctText, ctOM, ctProto, "", "text/plain", "application/vnd.google.protobuf; encoding=text"}

// FuzzGateway sends whole requests to a Gateway: any method, path,
// Content-Type, encoding (gzip among them) and body, under small limits.
// Every answer has a known status and, when it is an error, says why; a
// body accepted once is accepted again, gzip-compressed or not; what the
// gateway then exposes parses as the text format; and DELETE empties it.
func FuzzGateway(f *testing.F) {
	add := func(method uint8, path string, ct uint8, enc uint8, body []byte) {
		f.Add(method, path, ct, "", enc, body)
	}
	add(0, "/metrics/job/train/run/r1", 0, encIdentity, []byte(pythonText))
	add(0, "/metrics/job/train/run/r1", 0, encGzip, []byte(pythonText))
	add(1, "/metrics/job@base64/dHJhaW4/gpu/0", 1, encGzip, []byte("# TYPE c counter\nc_total 1\nc_created 2\n# EOF\n"))
	add(0, "/metrics/job/j", 2, encIdentity, protoBody(f, &dto.MetricFamily{
		Name: ptr("batch_seconds"), Type: dto.MetricType_HISTOGRAM.Enum(),
		Metric: []*dto.Metric{{Histogram: &dto.Histogram{SampleCount: ptr[uint64](2), SampleSum: ptr(0.5),
			Bucket: []*dto.Bucket{{UpperBound: ptr(0.1), CumulativeCount: ptr[uint64](1)}}}}},
	}))
	add(0, "/metrics/job/j", 0, encBadGzip, []byte("x 1\n"))
	add(1, "/metrics/job/j/a/b", 0, encOther, []byte("x 1\n"))
	add(2, "/metrics/job/j", 0, encIdentity, nil)
	add(3, "/metrics/job/j", 0, encIdentity, nil)
	add(0, "/metrics/job/j", 0, encIdentity, []byte("node_load1 1\nup 1\n"))
	add(0, "/metrics/job/j", 0, encIdentity, []byte("x{a=\"1\",a=\"2\"} 1\ny 1 1700000000000\n"))
	add(0, "/metrics/job/j", 0, encIdentity, []byte("# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 2\ns_count 3\n"))
	f.Add(uint8(0), "/metrics/job/j", uint8(255), "application/openmetrics-text; version=1.0.0", uint8(encIdentity), []byte("a 1\n# EOF\n"))
	f.Add(uint8(0), "/metrics/job/j", uint8(255), "text/plain; charset=\"", uint8(encIdentity), []byte("a 1\n"))

	methods := []string{http.MethodPut, http.MethodPost, http.MethodDelete, http.MethodGet}
	f.Fuzz(func(t *testing.T, m uint8, path string, ct uint8, ctString string, enc uint8, body []byte) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		if _, err := http.NewRequest(http.MethodPut, testPrefix+path, nil); err != nil {
			return // not a request line a client can send
		}
		method := methods[int(m)%len(methods)]
		contentType := ctString
		if int(ct) < len(fuzzContentTypes) {
			contentType = fuzzContentTypes[ct]
		}
		enc %= numEncodings
		gw := New(Options{
			MaxBodyBytes: 8 << 10, MaxSeriesPerGroup: 50, MaxGroups: 2,
			MaxLabelsPerSeries: 8, MaxLabelNameLength: 64, MaxLabelValueLength: 256,
			Reserved: reservedForTest,
			Now:      func() time.Time { return time.Unix(testEpoch, 0) },
		})
		send := func(method string, enc uint8, body []byte) *httptest.ResponseRecorder {
			t.Helper()
			wire := body
			if enc == encGzip {
				wire = gz(t, body)
			}
			var rd io.Reader
			if body != nil {
				rd = bytes.NewReader(wire)
			}
			r, err := http.NewRequest(method, testPrefix+path, rd)
			if err != nil {
				t.Fatal(err)
			}
			if r.Body == nil {
				r.Body = http.NoBody // as a server's request has
			}
			r.Header.Set("Content-Type", contentType)
			switch enc {
			case encGzip, encBadGzip:
				r.Header.Set("Content-Encoding", "gzip")
			case encOther:
				r.Header.Set("Content-Encoding", "br")
			}
			w := httptest.NewRecorder()
			gw.ServeHTTP(w, r)
			switch w.Code {
			case http.StatusOK, http.StatusAccepted:
			case http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed,
				http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusTooManyRequests:
				if strings.TrimSpace(w.Body.String()) == "" {
					t.Fatalf("%s %q: %d without an explanation", method, path, w.Code)
				}
			default:
				t.Fatalf("%s %q: unexpected status %d: %s", method, path, w.Code, w.Body.String())
			}
			return w
		}

		w := send(method, enc, body)
		if w.Code != http.StatusOK {
			return
		}
		if method != http.MethodPut && method != http.MethodPost {
			t.Fatalf("%s answered 200", method)
		}
		checkExposition(t, gw)

		// The same body, sent again (and the other way: plain if it was
		// gzipped, gzipped if it was plain), is accepted again.
		other := uint8(encGzip)
		if enc == encGzip {
			other = encIdentity
		}
		if other == encGzip && int64(len(gz(t, body))) > gw.o.MaxBodyBytes {
			other = encIdentity // gzip made it larger than the limit
		}
		if w2 := send(method, other, body); w2.Code != http.StatusOK {
			t.Fatalf("accepted body refused the second time (encoding %d): %d %s", other, w2.Code, w2.Body.String())
		}
		checkExposition(t, gw)

		if w3 := send(http.MethodDelete, encIdentity, nil); w3.Code != http.StatusAccepted {
			t.Fatalf("DELETE of a pushed group: %d %s", w3.Code, w3.Body.String())
		}
		if fams := gw.Families(); len(fams) != 0 || len(gw.Groups()) != 0 {
			t.Fatalf("after DELETE: %d families, %d groups", len(fams), len(gw.Groups()))
		}
	})
}

// checkExposition checks that the gateway's exposition is valid text
// format that a Prometheus (expfmt) parses, with push_time_seconds in it.
func checkExposition(t *testing.T, gw *Gateway) {
	t.Helper()
	txt, err := exposition.Text(gw.Families())
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(txt))
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("exposition does not parse: %v\n%s", err, txt)
	}
	if _, ok := mfs[pushTimeName]; !ok {
		t.Fatalf("exposition lacks %s:\n%s", pushTimeName, txt)
	}
	var b bytes.Buffer
	if err := exposition.Encode(&b, gw.Families(), expfmt.NewFormat(expfmt.TypeOpenMetrics)); err != nil {
		t.Fatalf("OpenMetrics exposition: %v", err)
	}
}
