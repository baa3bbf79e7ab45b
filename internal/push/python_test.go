package push

import (
	"math"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
)

// TestPythonClient pushes with the real prometheus_client (Debian's
// python3-prometheus-client) and checks what was stored. It is skipped
// where that module is not installed.
func TestPythonClient(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import prometheus_client").Run(); err != nil {
		t.Skip("python3 with prometheus_client not installed (apt install python3-prometheus-client)")
	}
	e := newEnv(t)
	srv := httptest.NewServer(e.gw)
	defer srv.Close()
	out, err := exec.Command(py, "testdata/python_push.py", srv.URL).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "pushed") {
		t.Fatalf("python_push.py: %v\n%s", err, out)
	}
	key := []string{"job", "mnist", "run", "run+1", "path", "/data/imagenet"}
	w := func(kv ...string) string { return ser(append(append([]string{}, key...), kv...)...) }
	got := e.last("job", "mnist")
	want := map[string]float64{
		w("__name__", "training_loss", "gpu", "0"):          math.NaN(),
		w("__name__", "batches_processed_total"):            10,
		w("__name__", "grad_norm", "layer", `fc "1"\`):      math.Inf(1),
		w("__name__", "batch_seconds_bucket", "le", "0.1"):  1,
		w("__name__", "batch_seconds_bucket", "le", "1.0"):  2,
		w("__name__", "batch_seconds_bucket", "le", "+Inf"): 2,
		w("__name__", "batch_seconds_count"):                2,
		w("__name__", "batch_seconds_sum"):                  0.55,
		w("__name__", "wait_seconds_count"):                 1,
		w("__name__", "wait_seconds_sum"):                   0.25,
		w("__name__", "build_info", "commit", "abc"):        1,
		w("__name__", "learning_rate"):                      0.001,
		w("__name__", "push_time_seconds"):                  testEpoch + 0.001, // the POST, 1 ms after the PUT
		w("__name__", "push_failure_time_seconds"):          0,
	}
	for k := range got {
		if strings.Contains(k, "_created") {
			delete(got, k) // prometheus_client's creation times: real clock
		}
	}
	sameValues(t, got, want)
	if gi := e.gw.Groups(); len(gi) != 1 || gi[0].Labels.Get("empty") != "" || !gi[0].Labels.Has("empty") {
		t.Errorf("groups %+v", gi)
	}
	ev := e.eventsCopy()
	if len(ev) != 4 || ev[0].Run() != "run+1" || ev[3].Method != MethodDelete || ev[3].Job() != "scratch/job" {
		t.Errorf("events %+v", ev)
	}
	for k, v := range e.last("job", "scratch/job") {
		if !isStale(v) {
			t.Errorf("%s = %v after DELETE, want a staleness marker", k, v)
		}
	}
}
