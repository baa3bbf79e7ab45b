package cpu

import (
	"reflect"
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector"
)

func TestParseSchedstat(t *testing.T) {
	const file = "/proc/schedstat"
	tests := []struct {
		name    string
		in      string
		want    []schedCPU
		wantErr string
	}{
		{
			name: "version 15 with domains",
			in: "version 15\ntimestamp 4836521773\n" +
				"cpu0 0 0 0 0 0 0 5101285403765 378912364519 81255232\n" +
				"domain0 00000001 24913 24012 712\n" +
				"cpu1 0 0 0 0 0 0 10 20 30\n",
			want: []schedCPU{
				{id: 0, runningNs: 5101285403765, waiting: 378912364519, timeslices: 81255232},
				{id: 1, runningNs: 10, waiting: 20, timeslices: 30},
			},
		},
		{
			name: "extra columns",
			in:   "cpu12 1 2 3 4 5 6 7 8 9 10 11\n",
			want: []schedCPU{{id: 12, runningNs: 7, waiting: 8, timeslices: 9}},
		},
		{
			name: "no CPU lines",
			in:   "version 15\ntimestamp 1\n",
			want: []schedCPU{},
		},
		{
			name:    "short CPU line",
			in:      "version 15\ncpu0 0 0 0 0 0 0 1 2\n",
			wantErr: `/proc/schedstat:2: cpu0: expected at least 9 counters, got 8 (line: "cpu0 0 0 0 0 0 0 1 2")`,
		},
		{
			name:    "bad counter",
			in:      "cpu0 0 0 0 0 0 0 1 2x 3\n",
			wantErr: `/proc/schedstat:1: cpu0 column 8: "2x" is not an unsigned integer (line: "cpu0 0 0 0 0 0 0 1 2x 3")`,
		},
		{
			name:    "bad CPU name",
			in:      "cpuA 0 0 0 0 0 0 1 2 3\n",
			wantErr: `/proc/schedstat:1: "cpuA" is not a CPU name (expected cpuN) (line: "cpuA 0 0 0 0 0 0 1 2 3")`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSchedstat(file, []byte(tt.in), nil)
			if tt.wantErr != "" {
				wantErr(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				got = []schedCPU{}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSchedstatCollector(t *testing.T) {
	fams := collectOK(t, newByName(t, fixtureRoots("host"), Config{}, "schedstat"))
	if got, want := names(fams), "node_schedstat_running_seconds_total(4) node_schedstat_waiting_seconds_total(4) node_schedstat_timeslices_total(4)"; got != want {
		t.Fatalf("families = %s", got)
	}
	if got := value(t, fams, "node_schedstat_running_seconds_total", "cpu", "0"); got != 5101.285403765 {
		t.Errorf("running = %v", got)
	}
	if got := value(t, fams, "node_schedstat_waiting_seconds_total", "cpu", "3"); got != 359.87654321 {
		t.Errorf("waiting = %v", got)
	}
	if got := value(t, fams, "node_schedstat_timeslices_total", "cpu", "2"); got != 80012345 {
		t.Errorf("timeslices = %v", got)
	}
}

func TestSchedstatCollectorErrors(t *testing.T) {
	_, err := collector.CollectOnce(t.Context(), newByName(t, fixtureRoots("broken"), Config{}, "schedstat"))
	wantErr(t, err, `testdata/broken/proc/schedstat:3: cpu0: expected at least 9 counters, got 8 (line: "cpu0 0 0 0 0 0 0 1 2")`)

	_, err = collector.CollectOnce(t.Context(), newByName(t, fixtureRoots("variant"), Config{}, "schedstat"))
	wantNoData(t, err)
	wantErr(t, err, "testdata/variant/proc/schedstat does not exist (kernel without CONFIG_SCHEDSTATS): no data on this machine")
}

func TestSchedstatLive(t *testing.T) {
	roots := liveRoots(t, "proc", "schedstat")
	fams := collectOK(t, newByName(t, roots, Config{}, "schedstat"))
	if count(fams, "node_schedstat_running_seconds_total") == 0 {
		t.Fatal("no CPUs in /proc/schedstat")
	}
	if v := value(t, fams, "node_schedstat_running_seconds_total", "cpu", "0"); v <= 0 {
		t.Errorf("cpu0 running = %v", v)
	}
}

func BenchmarkCollectSchedstat(b *testing.B) {
	benchCollect(b, newByName(b, benchRoots("proc", "schedstat"), Config{}, "schedstat"))
}
