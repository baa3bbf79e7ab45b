package remotewrite

import (
	"fmt"
	"testing"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/trainwatch/trainwatch/internal/store"
)

// benchTick is a realistic 2,000-sample tick: node_exporter-like series
// with job and instance, as the store hands them to OnCommit.
func benchTick() []store.Appended {
	var batch []store.Appended
	for i := range 2000 {
		ls := labels.FromStrings(
			"__name__", fmt.Sprintf("node_metric_%d", i%150),
			"cpu", fmt.Sprint(i%64),
			"mode", []string{"user", "system", "idle", "iowait"}[i%4],
			"instance", "gpu-node-17:9835",
			"job", "trainwatch",
			"series", fmt.Sprint(i),
		)
		batch = append(batch, store.Appended{Labels: ls, V: float64(i) * 1.5})
	}
	return batch
}

// BenchmarkEnqueue measures Enqueue of one 2,000-sample tick (encoding,
// compression and the write(2); segment rollovers included as they come).
func BenchmarkEnqueue(b *testing.B) {
	w, err := Open(Config{URL: "http://127.0.0.1:1/api/v1/write", ExternalLabels: map[string]string{"cluster": "a"}}, b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	batch := benchTick()
	t := int64(1_700_000_000_000)
	b.ReportAllocs()
	for b.Loop() {
		t += 1000
		for i := range batch {
			batch[i].T = t
			batch[i].V += float64(i % 7)
		}
		w.Enqueue(batch)
	}
	st := w.Stats()
	b.ReportMetric(float64(st.PendingBytes)/float64(st.SamplesEnqueued), "disk-bytes/sample")
}
