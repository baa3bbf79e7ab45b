package push_test

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/push"
	"github.com/trainwatch/trainwatch/internal/store"
)

// Example shows how the agent wires the receiver: pushes go to the store at
// push time, /metrics appends the pushed families to the tick's families,
// and Expire runs every minute.
func Example() {
	st, err := store.Open(store.Options{Dir: "/var/lib/trainwatch", Instance: "host:9100"})
	if err != nil {
		panic(err)
	}
	gw := push.New(push.Options{
		TTL:    push.DefaultTTL,
		Append: st.Append,
		Reserved: func(name string) bool {
			return strings.HasPrefix(name, "node_") || name == "up" ||
				strings.HasPrefix(name, "trainwatch_") && !strings.HasPrefix(name, "trainwatch_run_")
		},
		Logger: slog.Default(),
		OnPush: func(ev push.Event) {
			// runs.Update(ev.Run(), ev) — quick, and never calling back into gw.
			_, _ = ev.Value("train_loss", "gpu", "0")
		},
	})
	mux := http.NewServeMux()
	mux.Handle("/metrics/job/", gw)        // PUT, POST, DELETE
	mux.Handle("/metrics/job@base64/", gw) // a job name containing "/"
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		var tick []*collector.Family // the latest snapshot's families
		pushed, gen := gw.FamiliesGeneration()
		fams := collector.MergeFamilies(tick, pushed)
		_, _ = fams, gen // encode with internal/exposition, cached per (snapshot, gen)
	})
	go func() {
		for now := range time.Tick(time.Minute) {
			gw.Expire(now)
		}
	}()
	_ = collector.Collector(gw) // the self-metrics collector, named "push"
}
