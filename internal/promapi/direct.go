package promapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/trainwatch/trainwatch/internal/subquery"
)

// QueryError is a failed query with Prometheus' error type (bad_data,
// execution, timeout, canceled, internal).
type QueryError struct {
	Type string
	Err  error
}

func (e *QueryError) Error() string { return e.Type + ": " + e.Err.Error() }
func (e *QueryError) Unwrap() error { return e.Err }

// Range is the time span of a query. A zero Step means an instant query at
// End.
type Range struct {
	Start, End time.Time
	Step       time.Duration
}

// EvalDir evaluates expr directly against the TSDB in dir, opened read-only
// (so it works while an agent writes to it, and when none runs), and
// returns the result in the shape of the API's "data" field:
// {"resultType": ..., "result": ...}.
func EvalDir(ctx context.Context, dir, expr string, r Range, logger *slog.Logger) (json.RawMessage, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("data directory %s: %w (is it the agent's --data-dir?)", dir, err)
	}
	if !looksLikeTSDB(dir) {
		return nil, fmt.Errorf("%s holds no history (no wal/ and no blocks): is it the agent's --data-dir?", dir)
	}
	sandbox, err := os.MkdirTemp("", "trainwatch-query-")
	if err != nil {
		return nil, fmt.Errorf("temporary directory for reading the WAL: %w", err)
	}
	defer os.RemoveAll(sandbox)
	db, err := tsdb.OpenDBReadOnly(dir, sandbox, logger)
	if err != nil {
		return nil, fmt.Errorf("opening the history in %s read-only: %w", dir, err)
	}
	defer db.Close()
	q := storage.QueryableFunc(func(mint, maxt int64) (storage.Querier, error) { return db.Querier(mint, maxt) })
	return Eval(ctx, q, expr, r)
}

// looksLikeTSDB reports whether dir has a WAL or at least one block.
func looksLikeTSDB(dir string) bool {
	if st, err := os.Stat(filepath.Join(dir, "wal")); err == nil && st.IsDir() {
		return true
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "meta.json")); err == nil {
			return true
		}
	}
	return false
}

// Eval evaluates expr over q with the API's engine defaults and returns the
// API's "data" JSON.
func Eval(ctx context.Context, q storage.Queryable, expr string, r Range) (json.RawMessage, error) {
	p := parser.NewParser(parser.Options{})
	var span time.Duration
	if r.Step > 0 && r.End.After(r.Start) {
		span = r.End.Sub(r.Start)
	}
	// The API's bound on subquery steps holds here too: without it, one
	// query makes the engine allocate more than the machine has.
	if err := subquery.CheckQuery(p, expr, span); err != nil {
		return nil, &QueryError{Type: "bad_data", Err: err}
	}
	engine := NewEngine(EngineOptions{Parser: p})
	var (
		qry promql.Query
		err error
	)
	if r.Step > 0 {
		qry, err = engine.NewRangeQuery(ctx, q, nil, expr, r.Start, r.End, r.Step)
	} else {
		qry, err = engine.NewInstantQuery(ctx, q, nil, expr, r.End)
	}
	if err != nil {
		return nil, &QueryError{Type: "bad_data", Err: err}
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		return nil, classify(res.Err)
	}
	b, err := json.Marshal(struct {
		ResultType parser.ValueType `json:"resultType"`
		Result     parser.Value     `json:"result"`
	}{res.Value.Type(), res.Value})
	if err != nil {
		return nil, fmt.Errorf("encoding the result: %w", err)
	}
	return b, nil
}

// classify maps an engine error onto Prometheus' error types.
func classify(err error) *QueryError {
	var (
		canceled promql.ErrQueryCanceled
		timeout  promql.ErrQueryTimeout
		storErr  promql.ErrStorage
	)
	switch {
	case errors.As(err, &canceled):
		return &QueryError{Type: "canceled", Err: err}
	case errors.As(err, &timeout):
		return &QueryError{Type: "timeout", Err: err}
	case errors.As(err, &storErr):
		return &QueryError{Type: "internal", Err: err}
	}
	return &QueryError{Type: "execution", Err: err}
}
