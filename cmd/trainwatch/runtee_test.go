package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/logparse"
	"github.com/trainwatch/trainwatch/internal/runs"
)

// collected gathers the entries a lineParser observes.
type collected struct {
	mu sync.Mutex
	es []runs.Entry
}

func (c *collected) observe(e runs.Entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.es = append(c.es, e)
}

func (c *collected) values(key string) []float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []float64
	for _, e := range c.es {
		if v, ok := e.Values[key]; ok {
			out = append(out, v)
		}
	}
	return out
}

// TestRunLineTee: whatever the sizes of the writes, and whether lines go to
// the parser at each write or gather until the output pauses, the output
// comes through byte for byte and every line is parsed once, in order:
// lines end at \n, \r\n or \r (progress bars), a line longer than
// runMaxLine is not parsed (nor its end), and the unfinished last line is
// parsed at flush.
func TestRunLineTee(t *testing.T) {
	p, err := logparse.New(logparse.Options{Regexes: []string{`^n=(?P<n>\d+)$`}})
	if err != nil {
		t.Fatal(err)
	}
	input := "n=1\nn=2\r\nn=3\rn=4\n\n\r\n" + strings.Repeat("x", runMaxLine+10) + "n=99\n" + "n=5\nplain text\nn=6"
	want := []float64{1, 2, 3, 4, 5, 6}
	for _, mode := range []string{"each write", "batched", "batched, idle after each write"} {
		for _, chunk := range []int{1, 2, 3, 7, 64, 4096, runMaxLine, len(input)} {
			t.Run(fmt.Sprint(mode, " ", chunk), func(t *testing.T) {
				var got collected
				lp := newLineParser(p, got.observe)
				var out bytes.Buffer
				tee := newLineTee(&out, lp)
				tee.batch = mode != "each write"
				for rest := input; len(rest) > 0; {
					n := min(chunk, len(rest))
					if m, err := tee.Write([]byte(rest[:n])); m != n || err != nil {
						t.Fatalf("Write: %d, %v", m, err)
					}
					if mode == "batched, idle after each write" {
						tee.idle()
					}
					rest = rest[n:]
				}
				tee.flush()
				lp.close()
				if out.String() != input {
					t.Errorf("output differs from the input")
				}
				if g := got.values("n"); fmt.Sprint(g) != fmt.Sprint(want) {
					t.Errorf("parsed %v, want %v", g, want)
				}
				if n := lp.skipped.Load(); n != 0 {
					t.Errorf("%d lines skipped", n)
				}
			})
		}
	}
}

// failWriter fails every write, as a closed stdout does.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

// TestRunLineTeeOutputGone: when our stdout is gone the command goes on
// (writes succeed) and its lines are still parsed.
func TestRunLineTeeOutputGone(t *testing.T) {
	p, err := logparse.New(logparse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got collected
	lp := newLineParser(p, got.observe)
	tee := newLineTee(failWriter{}, lp)
	for i := 1; i <= 3; i++ {
		if _, err := fmt.Fprintf(tee, "step=%d loss=0.5\n", i); err != nil {
			t.Fatal(err)
		}
	}
	lp.close()
	if n := len(got.values("loss")); n != 3 {
		t.Errorf("%d entries, want 3", n)
	}
}

// TestRunLineTeeNeverBlocks: when the parser falls behind, the output still
// goes through at once; the lines not parsed are counted.
func TestRunLineTeeNeverBlocks(t *testing.T) {
	p, err := logparse.New(logparse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var once sync.Once
	lp := newLineParser(p, func(runs.Entry) { <-release })
	var out bytes.Buffer
	tee := newLineTee(&out, lp)
	line := []byte("step=1 loss=0.5\n")
	block := bytes.Repeat(line, 1000)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 4 * teeQueueBlocks {
			_, _ = tee.Write(block)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		once.Do(func() { close(release) })
		t.Fatal("writes blocked behind the parser")
	}
	once.Do(func() { close(release) })
	lp.close()
	if out.Len() != 4*teeQueueBlocks*len(block) {
		t.Errorf("%d bytes out, want %d", out.Len(), 4*teeQueueBlocks*len(block))
	}
	total := int64(4 * teeQueueBlocks * 1000)
	if s, n := lp.skipped.Load(), lp.parsed.Load(); s == 0 || s+n != total {
		t.Errorf("skipped %d + parsed %d lines, want some skipped and %d in all", s, n, total)
	}
}

// benchOutput is a mix of training output: tqdm bars redrawn with \r,
// key=value lines, HF dicts and plain log lines.
func benchOutput(size int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < size; i++ {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "\rEpoch 3:  45%%|####5     | %d/100000 [01:23<01:42,  5.37it/s, loss=0.%04d, lr=1e-4]", i, i%10000)
		case 1:
			fmt.Fprintf(&b, "step=%d loss=0.%04d lr=0.001 grad_norm=1.5\n", i, i%10000)
		case 2:
			fmt.Fprintf(&b, "{'loss': 0.%04d, 'grad_norm': 1.23, 'learning_rate': 4.5e-05, 'epoch': 0.5}\n", i%10000)
		default:
			fmt.Fprintf(&b, "INFO 2026-11-28 12:34:56,789 trainer.py:123 step %d done, loading shards from /data/train\n", i)
		}
	}
	return b.Bytes()
}

// BenchmarkRunLineTee measures the output path: 32 KiB writes (what the
// pipe copy hands over) through the tee to io.Discard, parsed on the other
// goroutine, per MB.
func BenchmarkRunLineTee(b *testing.B) {
	p, err := logparse.New(logparse.Options{})
	if err != nil {
		b.Fatal(err)
	}
	data := benchOutput(8 << 20)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var n int
		lp := newLineParser(p, func(runs.Entry) { n++ })
		tee := newLineTee(io.Discard, lp)
		for rest := data; len(rest) > 0; {
			k := min(32<<10, len(rest))
			_, _ = tee.Write(rest[:k])
			rest = rest[k:]
		}
		tee.flush()
		lp.close()
	}
}

// BenchmarkRunParseBlock measures parsing alone (the parser goroutine's
// work), per MB.
func BenchmarkRunParseBlock(b *testing.B) {
	p, err := logparse.New(logparse.Options{})
	if err != nil {
		b.Fatal(err)
	}
	data := benchOutput(8 << 20)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	lp := &lineParser{parser: p, observe: func(runs.Entry) {}, now: time.Now}
	for b.Loop() {
		for rest := data; len(rest) > 0; {
			k := min(32<<10, len(rest))
			cut := lastLineEnd(rest[:k])
			if cut < 0 || k == len(rest) {
				cut = k - 1
			}
			lp.parseBlock(rest[:cut+1])
			rest = rest[cut+1:]
		}
	}
}

// BenchmarkRunPassthrough runs `trainwatch run --no-watch` (no agent) on
// `cat` of 10 MB of training output, to io.Discard: the whole output path,
// pipe included, for profiling (-cpuprofile). RUNPASS_GEN=path/to/gen.py
// runs `python3 gen.py 10485760` instead (bench/runpass's generator).
func BenchmarkRunPassthrough(b *testing.B) {
	p, err := logparse.New(logparse.Options{})
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "out.txt")
	data := benchOutput(10 << 20)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		argv := []string{"cat", path}
		if gen := os.Getenv("RUNPASS_GEN"); gen != "" {
			argv = []string{"python3", gen, "10485760"}
		}
		r := newCmdRunner("bench", "http://127.0.0.1:1", argv, p)
		r.stdin, r.stdout, r.stderr = strings.NewReader(""), io.Discard, io.Discard
		r.localCfg.GPU.Disable = []string{"nvml", "amd"}
		if code, err := r.run(); code != 0 || err != nil {
			b.Fatal(code, err)
		}
	}
}
