package testenv

import (
	"bytes"
	"strings"
	"sync"
)

// LogBuffer is a concurrency-safe io.Writer that keeps what a logger wrote,
// for tests that assert on warnings logged from other goroutines (the
// TSDB's, a sender's).
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Count returns how many times substr was logged.
func (l *LogBuffer) Count(substr string) int { return strings.Count(l.String(), substr) }
