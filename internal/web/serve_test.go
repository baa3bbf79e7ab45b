package web

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/testenv"
)

// TestServeLogsHandlerPanic: a handler's panic, which net/http recovers and
// reports through the server's error log, is logged at error level with
// its value and stack; the server's other complaints stay at debug.
func TestServeLogsHandlerPanic(t *testing.T) {
	var logs testenv.LogBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/boom", func(http.ResponseWriter, *http.Request) { panic("the handler's own bug") })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, mux, ServeOptions{Grace: time.Second, Logger: logger}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	url := "http://" + ln.Addr().String()

	if resp, err := http.Get(url + "/boom"); err == nil {
		resp.Body.Close()
		t.Fatalf("GET /boom answered %s; want the connection closed after the panic", resp.Status)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "panicked") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	out := logs.String()
	for _, want := range []string{"level=ERROR", "a request handler panicked", "the handler's own bug", "goroutine"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "level=ERROR"); n != 1 {
		t.Errorf("%d error lines; want 1:\n%s", n, out)
	}

	var w serverLogWriter
	w.logger = logger
	if _, err := w.Write([]byte("http: TLS handshake error from 127.0.0.1:1234: EOF\n")); err != nil {
		t.Fatal(err)
	}
	if got := logs.String(); !strings.Contains(got, `level=DEBUG msg="http: TLS handshake error`) {
		t.Errorf("a TLS handshake error is not logged at debug:\n%s", got)
	}
}
