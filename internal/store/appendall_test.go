package store

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// TestAppendAll checks the all-or-nothing append of pushes and run logs: a
// batch with a refused sample stores none of its samples and says why; a
// good batch is stored whole and handed to OnCommit.
func TestAppendAll(t *testing.T) {
	loss := labels.FromStrings("__name__", "training_loss", "job", "mnist", "run", "r1")
	lr := labels.FromStrings("__name__", "learning_rate", "job", "mnist", "run", "r1")
	t0 := ms(base)
	tests := []struct {
		name       string
		batch      []Appended
		wantErr    error // nil: stored whole
		rejected   int
		wantLoss   []point // training_loss after the batch
		wantHooked int     // samples OnCommit saw for the batch
	}{
		{
			name:       "all good",
			batch:      []Appended{{loss, t0 + 2000, 0.4}, {lr, t0 + 2000, 1e-4}},
			wantLoss:   []point{{t0, 0.5}, {t0 + 1000, 0.45}, {t0 + 2000, 0.4}},
			wantHooked: 2,
		},
		{
			name:     "one out of order: nothing stored",
			batch:    []Appended{{lr, t0 + 2000, 1e-4}, {loss, t0 + 500, 0.7}, {loss, t0 + 3000, 0.3}},
			wantErr:  storage.ErrOutOfOrderSample,
			rejected: 1,
			wantLoss: []point{{t0, 0.5}, {t0 + 1000, 0.45}},
		},
		{
			name:     "a duplicate timestamp with another value: nothing stored",
			batch:    []Appended{{loss, t0 + 1000, 0.9}, {loss, t0 + 3000, 0.3}},
			wantErr:  storage.ErrDuplicateSampleForTimestamp,
			rejected: 1,
			wantLoss: []point{{t0, 0.5}, {t0 + 1000, 0.45}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hooked := 0
			s, err := Open(Options{Dir: t.TempDir(), Instance: "node1:9400", OnCommit: func(b []Appended) { hooked += len(b) }})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			if err := s.AppendAll(ctx, []Appended{{loss, t0, 0.5}, {loss, t0 + 1000, 0.45}}); err != nil {
				t.Fatalf("first AppendAll: %v", err)
			}
			hooked = 0
			before := s.Stats()
			err = s.AppendAll(ctx, tt.batch)
			if tt.wantErr == nil && err != nil {
				t.Fatalf("AppendAll = %v, want nil", err)
			}
			if tt.wantErr != nil {
				var ae *AppendError
				if !errors.As(err, &ae) || ae.Rejected != tt.rejected || !errors.Is(err, tt.wantErr) {
					t.Fatalf("AppendAll = %v, want an *AppendError with %d refusal(s) of %v", err, tt.rejected, tt.wantErr)
				}
			}
			got := readAll(t, s.Queryable(), "training_loss")[loss.String()]
			if len(got) != len(tt.wantLoss) {
				t.Fatalf("training_loss = %v, want %v", got, tt.wantLoss)
			}
			for i := range got {
				if got[i] != tt.wantLoss[i] {
					t.Fatalf("training_loss = %v, want %v", got, tt.wantLoss)
				}
			}
			if lrPts := readAll(t, s.Queryable(), "learning_rate")[lr.String()]; tt.wantErr != nil && len(lrPts) != 0 {
				t.Errorf("learning_rate = %v: a refused batch stored part of itself", lrPts)
			}
			if hooked != tt.wantHooked {
				t.Errorf("OnCommit saw %d samples, want %d", hooked, tt.wantHooked)
			}
			after := s.Stats()
			if n := after.SamplesAppended - before.SamplesAppended; n != uint64(tt.wantHooked) {
				t.Errorf("SamplesAppended grew by %d, want %d", n, tt.wantHooked)
			}
			if n := after.AppendErrors() - before.AppendErrors(); n != uint64(tt.rejected) {
				t.Errorf("append errors grew by %d, want %d", n, tt.rejected)
			}
		})
	}
}

// TestMaxTime: the newest stored timestamp, also after a restart (WAL
// replay), so that pushes after a restart can start after it.
func TestMaxTime(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	if got := s.MaxTime(); got != math.MinInt64 {
		t.Errorf("empty store: MaxTime = %d, want math.MinInt64", got)
	}
	lset := labels.FromStrings("__name__", "training_loss", "job", "mnist", "run", "r1")
	// A push stamped ahead of the clock (pushes faster than one per ms).
	ahead := ms(base.Add(90 * time.Minute))
	if err := s.AppendAll(context.Background(), []Appended{{lset, ms(base), 1}, {lset, ahead, 2}}); err != nil {
		t.Fatal(err)
	}
	if got := s.MaxTime(); got != ahead {
		t.Errorf("MaxTime = %d, want %d", got, ahead)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir)
	defer s.Close()
	if got := s.MaxTime(); got != ahead {
		t.Errorf("after reopening: MaxTime = %d, want %d", got, ahead)
	}
}
