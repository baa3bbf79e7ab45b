package push_test

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/trainwatch/trainwatch/internal/push"
	"github.com/trainwatch/trainwatch/internal/store"
)

// storedValues returns every value stored for series name.
func storedValues(t *testing.T, db *store.Store, name string) []float64 {
	t.Helper()
	q, err := db.Queryable().Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var out []float64
	ss := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", name))
	for ss.Next() {
		it := ss.At().Iterator(nil)
		for it.Next() != 0 {
			_, v := it.At()
			out = append(out, v)
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAcknowledgedPushIsStored: a push the gateway answers with 2xx must be
// in the history. Each case pushes once, then pushes again through a new
// gateway over the same store (the agent restarted) whose push time falls
// at or before the first push's — the wall clock stepped back, or the first
// run stamped pushes ahead of the clock (more than one push per ms) — or,
// with timestamps allowed, with a sample older than the one stored. The
// history refuses such a sample; the gateway must then refuse the push
// rather than acknowledge it.
func TestAcknowledgedPushIsStored(t *testing.T) {
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	tests := []struct {
		name       string
		second     time.Time // the restarted gateway's clock
		allowTS    bool
		firstBody  string
		secondBody string
	}{
		{
			name:       "restart with the clock behind the stored push",
			second:     t0.Add(-2 * time.Second),
			firstBody:  "crash_push_seq 1\n",
			secondBody: "crash_push_seq 2\n",
		},
		{
			name:       "restart in the same millisecond",
			second:     t0,
			firstBody:  "crash_push_seq 1\n",
			secondBody: "crash_push_seq 2\n",
		},
		{
			name:       "explicit timestamp older than the stored sample",
			second:     t0.Add(time.Second),
			allowTS:    true,
			firstBody:  "crash_push_seq 1\n",
			secondBody: "crash_push_seq 2 " + strconv.FormatInt(t0.Add(-time.Second).UnixMilli(), 10) + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := store.Open(store.Options{Dir: t.TempDir(), Instance: "agent:9835"})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			put := func(g *push.Gateway, body string) int {
				req := httptest.NewRequest(http.MethodPut, "/metrics/job/train/rank/0", strings.NewReader(body))
				req.Header.Set("Content-Type", "text/plain; version=0.0.4")
				rec := httptest.NewRecorder()
				g.ServeHTTP(rec, req)
				return rec.Code
			}
			first := push.New(push.Options{Append: db.Append, AllowTimestamps: tt.allowTS, Now: func() time.Time { return t0 }})
			if code := put(first, tt.firstBody); code != http.StatusOK {
				t.Fatalf("first push: %d", code)
			}
			second := push.New(push.Options{Append: db.Append, AllowTimestamps: tt.allowTS, Now: func() time.Time { return tt.second }})
			code := put(second, tt.secondBody)
			stored := storedValues(t, db, "crash_push_seq")
			found := false
			for _, v := range stored {
				found = found || v == 2
			}
			t.Logf("second push answered %d; stored values %v", code, stored)
			if code/100 == 2 && !found {
				t.Errorf("the second push was acknowledged (%d) but its sample is not in the history (stored: %v)", code, stored)
			}
		})
	}
}
