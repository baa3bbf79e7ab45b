package tui

import (
	"context"
	"errors"
	"syscall"
	"time"

	"github.com/trainwatch/trainwatch/internal/ui"
)

// Source is where the UI's data comes from: a running agent (AgentSource)
// or collection in this process (LocalSource). The model calls it only from
// commands (tea.Cmd), never from Update or View.
type Source interface {
	// Label says where the data comes from, for the header: "agent
	// http://127.0.0.1:9835" or "local (no agent)".
	Label() string
	// Stream sends an Event for every collection tick, and one whenever
	// the source loses its data (Event.Err), until ctx ends. Each send
	// blocks until the UI takes the event or ctx ends.
	Stream(ctx context.Context, events chan<- Event)
	// Info says what the source has.
	Info(ctx context.Context) (Info, error)
	// Processes lists every process with its job and GPU memory.
	Processes(ctx context.Context) (*ui.ProcessList, error)
	// QueryRange evaluates a PromQL range query against the source's
	// history; ErrNoHistory when it keeps none.
	QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]Series, error)
	// CanSignal says whether Signal may be used: nil when the processes
	// listed are this machine's, else why not.
	CanSignal() error
	// Signal sends sig to the process pid.
	Signal(pid int, sig syscall.Signal) error
}

// ErrNoHistory is QueryRange's error for a source that keeps no history.
var ErrNoHistory = errors.New("this source keeps no history")

// Event is one delivery of a Source's stream: a snapshot, or news that the
// source is not delivering.
type Event struct {
	// Payload is a tick's snapshot (nil when Err is set).
	Payload *ui.Payload
	// Err says why the source delivers nothing now (connection refused, the
	// agent went away); the source keeps trying.
	Err error
	// Retry is when the source tries again after Err.
	Retry time.Duration
}

// Info is what a source has, from the agent's /api/ui/config.
type Info struct {
	// Interval is the collection interval.
	Interval time.Duration
	// History is true when QueryRange works.
	History bool
	// Runs, Alerting and Processes are true when the source knows
	// training runs, evaluates alert rules and lists every process.
	Runs, Alerting, Processes bool
	// Version is the agent's version ("" in process).
	Version string
}

// Series is one series of a range query.
type Series struct {
	Labels map[string]string
	Points []Point
}

// Point is one sample: Unix milliseconds and value.
type Point struct {
	T int64
	V float64
}

// send delivers ev unless ctx ends first; it reports whether it did.
func send(ctx context.Context, events chan<- Event, ev Event) bool {
	select {
	case events <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}
