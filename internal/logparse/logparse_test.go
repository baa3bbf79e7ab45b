package logparse

import (
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/trainwatch/trainwatch/internal/runs"
)

var now = time.UnixMilli(1_780_000_000_000)

func mustNew(t testing.TB, opts Options) *Parser {
	t.Helper()
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// want describes an expected entry; epoch -1 means NaN.
type want struct {
	step   int64
	epoch  float64
	values map[string]float64
}

func check(t *testing.T, line string, got runs.Entry, w want) {
	t.Helper()
	if got.Step != w.step {
		t.Errorf("%q: step = %d, want %d", line, got.Step, w.step)
	}
	if w.epoch < 0 {
		if !math.IsNaN(got.Epoch) {
			t.Errorf("%q: epoch = %v, want none", line, got.Epoch)
		}
	} else if got.Epoch != w.epoch {
		t.Errorf("%q: epoch = %v, want %v", line, got.Epoch, w.epoch)
	}
	if len(got.Values) != len(w.values) {
		t.Errorf("%q: values = %v, want %v", line, got.Values, w.values)
	}
	for k, v := range w.values {
		g, ok := got.Values[k]
		if !ok || !(g == v || math.IsNaN(g) && math.IsNaN(v) || math.Abs(g-v) < 1e-9*math.Abs(v)) {
			t.Errorf("%q: %s = %v (present %v), want %v", line, k, g, ok, v)
		}
	}
}

func TestLineFormats(t *testing.T) {
	p := mustNew(t, Options{})
	inf := math.Inf(1)
	nan := math.NaN()
	tests := []struct {
		name string
		line string
		want want
	}{
		{"json", `{"step": 10, "loss": 0.42, "lr": 1e-4}`, want{10, -1, map[string]float64{"loss": 0.42, "lr": 1e-4}}},
		{"json nan", `{"step": 11, "loss": NaN, "gn": Infinity, "x": -Infinity, "epoch": 1.5}`, want{11, 1.5, map[string]float64{"loss": nan, "gn": inf, "x": math.Inf(-1)}}},
		{"json nested skipped", `{"step": 3, "cfg": {"a": [1, 2]}, "name": "run-1", "acc": 0.9}`, want{3, -1, map[string]float64{"acc": 0.9}}},
		{"json escaped key", `{"a\"b": 1, "c": 2}`, want{-1, -1, map[string]float64{`a"b`: 1, "c": 2}}},
		{"hf train", `{'loss': 0.4321, 'grad_norm': 1.23, 'learning_rate': 4.5e-05, 'epoch': 0.5}`, want{-1, 0.5, map[string]float64{"loss": 0.4321, "grad_norm": 1.23, "learning_rate": 4.5e-05}}},
		{"hf nan inf", `{'loss': nan, 'grad_norm': inf, 'x': -inf, 'ok': True, 'no': False, 'epoch': 1.13}`, want{-1, 1.13, map[string]float64{"loss": nan, "grad_norm": inf, "x": math.Inf(-1), "ok": 1, "no": 0}}},
		{"hf eval", `{'eval_loss': 0.3872, 'eval_runtime': 5.123, 'eval_samples_per_second': 195.2, 'eval_steps_per_second': 24.4, 'epoch': 1.0}`, want{-1, 1, map[string]float64{"eval_loss": 0.3872, "eval_runtime": 5.123, "eval_samples_per_second": 195.2, "eval_steps_per_second": 24.4}}},
		{"hf final", `{'train_runtime': 12.3, 'train_samples_per_second': 40.1, 'train_steps_per_second': 5.0, 'train_loss': 0.61, 'epoch': 3.0}`, want{-1, 3, map[string]float64{"train_runtime": 12.3, "train_samples_per_second": 40.1, "train_steps_per_second": 5, "train_loss": 0.61}}},
		{"tqdm epoch", "Epoch 3:  45%|████▌     | 450/1000 [01:23<01:42,  5.37it/s, loss=0.123, lr=1e-4]", want{450, 3, map[string]float64{"total_steps": 1000, "steps_per_second": 5.37, "loss": 0.123, "lr": 1e-4}}},
		{"tqdm s/it", " 10%|█         | 100/1000 [05:00<45:00,  2.00s/it]", want{100, -1, map[string]float64{"total_steps": 1000, "steps_per_second": 0.5}}},
		{"tqdm plain done", "100%|██████████| 1000/1000 [03:05<00:00,  5.39it/s]", want{1000, -1, map[string]float64{"total_steps": 1000, "steps_per_second": 5.39}}},
		{"tqdm no rate yet", "  0%|          | 0/1000 [00:00<?, ?it/s]", want{0, -1, map[string]float64{"total_steps": 1000}}},
		{"tqdm no total", "450it [01:23,  5.37it/s, loss=0.5]", want{450, -1, map[string]float64{"steps_per_second": 5.37, "loss": 0.5}}},
		{"tqdm carriage returns", "\r  1%|          | 10/1000 [00:02<03:00,  5.5it/s]\r  2%|▏         | 20/1000 [00:04<03:00,  5.4it/s, loss=2.1]\r  3%|▎   ", want{20, -1, map[string]float64{"total_steps": 1000, "steps_per_second": 5.4, "loss": 2.1}}},
		{"tqdm ansi", "\x1b[32mEpoch 1: 10%|█| 10/100 [00:01<00:09, 9.00it/s]\x1b[0m", want{10, 1, map[string]float64{"total_steps": 100, "steps_per_second": 9}}},
		{"lightning", "Epoch 0: 100%|██████████| 782/782 [00:30<00:00, 25.9it/s, v_num=0, train_loss=0.512, val_loss=0.48]", want{782, 0, map[string]float64{"total_steps": 782, "steps_per_second": 25.9, "train_loss": 0.512, "val_loss": 0.48}}},
		{"lightning step/epoch", "Epoch 2:  50%|█████     | 391/782 [00:15<00:15, 25.1it/s, v_num=3, train_loss_step=0.41, train_loss_epoch=0.45, note=abc]", want{391, 2, map[string]float64{"total_steps": 782, "steps_per_second": 25.1, "train_loss_step": 0.41, "train_loss_epoch": 0.45}}},
		{"lightning unknown total", "Epoch 0: | 120/? [00:05<00:00, 24.0it/s, v_num=1, loss=1.5]", want{120, 0, map[string]float64{"steps_per_second": 24, "loss": 1.5}}},
		{"kv", "step=100 loss=0.23 lr=0.001", want{100, -1, map[string]float64{"loss": 0.23, "lr": 0.001}}},
		{"kv colon", "step: 100, loss: 0.23", want{100, -1, map[string]float64{"loss": 0.23}}},
		{"kv step only", "[rank0] global_step=7", want{7, -1, map[string]float64{}}},
		{"kv tutorial", "Epoch [3/10], Step [100/500], Loss: 0.2345", want{100, 3, map[string]float64{"total_epochs": 10, "total_steps": 500, "Loss": 0.2345}}},
		{"kv config", "batch_size=32 hidden=768 name=bert", want{-1, -1, map[string]float64{"batch_size": 32, "hidden": 768}}},
		{"kv nan", "iter 5 | step=5 | loss=nan | grad_norm=inf", want{5, -1, map[string]float64{"loss": nan, "grad_norm": inf}}},
		{"kv with time", "2026-11-28 12:34:56 INFO step=200 loss=0.1 time=0.35", want{200, -1, map[string]float64{"loss": 0.1, "time": 0.35}}},
		{"kv wandb keys", "train/loss=0.5 train/acc=0.8", want{-1, -1, map[string]float64{"train/loss": 0.5, "train/acc": 0.8}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ok := p.Line(tt.line, now)
			if !ok {
				t.Fatalf("%q: no metrics", tt.line)
			}
			if e.TimeMs != now.UnixMilli() {
				t.Errorf("TimeMs = %d, want %d", e.TimeMs, now.UnixMilli())
			}
			check(t, tt.line, e, tt.want)
		})
	}
}

func TestLineNoMetrics(t *testing.T) {
	p := mustNew(t, Options{})
	lines := []string{
		"",
		"   ",
		"INFO 2026-11-28 12:34:56,789 Starting",
		"Traceback (most recent call last):",
		`  File "/opt/train.py", line 42, in <module>`,
		"    main()",
		"RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 15.78 GiB total capacity)",
		"ValueError: expected 3, got 2",
		"see https://huggingface.co/docs/transformers?x=1&y=2 for details",
		"Connecting to http://10.0.0.1:8080/api?step=1",
		"Downloading: 45%|████▌     | 1.2G/2.6G [00:10<00:12, 120MB/s]",
		"model.safetensors: 100%|██████████| 440M/440M [00:03<00:00, 130MB/s]",
		"Downloading data: 100%|██████████| 21.0M/21.0M [00:01<00:00, 15.2MB/s]",
		"Map: 100%|██████████| 25000/25000 [00:05<00:00, 4760.12 examples/s]",
		"Validation DataLoader 0:  45%|████▌     | 45/100 [00:01<00:02, 30.1it/s]",
		"Sanity Checking DataLoader 0: 100%|██████████| 2/2 [00:00<00:00, 10.5it/s]",
		"loss=0.5",              // one pair, no step
		"time: 12:34:56",        // a timestamp is not a metric
		"epoch: three, loss: x", // non-numeric
		`{"level": "info", "msg": "starting", "pid": 1234}`,
		`{"a": 1,}x`,
		`{'loss': 0.1`,
		"{not a dict}",
		"[1, 2, 3]",
		"Epoch 0: 100%|██████████| 782/782 [00:30<00:00",
		"  | Name  | Type   | Params",
		"0 | model | ResNet | 11.2 M",
		"GPU available: True (cuda), used: True",
		"12:34:56 12:34:57",
	}
	for _, line := range lines {
		if e, ok := p.Line(line, now); ok {
			t.Errorf("%q: got metrics %+v, want none", line, e)
		}
	}
}

func TestUserRegex(t *testing.T) {
	p := mustNew(t, Options{Regexes: []string{
		`step (?P<step>\d+) loss (?P<loss>[0-9.e+-]+)`,
		`ep=(?P<epoch>\d+) acc=(?P<acc>\S+) tag=(?P<tag>\w+)`,
	}})
	e, ok := p.Line("12:00 | step 300 loss 1.5e-2 | other", now)
	if !ok {
		t.Fatal("regex 1 did not match")
	}
	check(t, "regex 1", e, want{300, -1, map[string]float64{"loss": 0.015}})
	e, ok = p.Line("ep=2 acc=0.75 tag=best", now)
	if !ok {
		t.Fatal("regex 2 did not match")
	}
	check(t, "regex 2", e, want{-1, 2, map[string]float64{"acc": 0.75}})
	// Built-in formats still apply.
	if _, ok := p.Line(`{'loss': 1.0}`, now); !ok {
		t.Error("HF line not parsed next to user regexes")
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		opts Options
		want string
	}{
		{Options{Regexes: []string{`(?P<loss>[0-9.]+`}}, `(?P<loss>[0-9.]+`},
		{Options{Regexes: []string{`step (\d+)`}}, "no named groups"},
		{Options{Disable: []string{"csv"}}, `"csv"`},
	}
	for _, tt := range tests {
		_, err := New(tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) error = %v, want it to contain %q", tt.opts, err, tt.want)
		}
	}
}

func TestDisable(t *testing.T) {
	lines := map[string]string{
		FormatJSON:      `{"step": 1, "loss": 2}`,
		FormatHF:        `{'loss': 2, 'epoch': 0.1}`,
		FormatTqdm:      "50%|█████     | 5/10 [00:01<00:01, 5.0it/s]",
		FormatLightning: "Epoch 0: 50%|█████     | 5/10 [00:01<00:01, 5.0it/s, v_num=0, loss=1]",
		FormatKeyValue:  "step=1 loss=2",
	}
	for format := range lines {
		p := mustNew(t, Options{Disable: []string{format}})
		for f, line := range lines {
			_, ok := p.Line(line, now)
			if ok == (f == format) {
				t.Errorf("Disable %s: line of %s parsed = %v", format, f, ok)
			}
		}
	}
}

func TestZeroTimeAndJSONTime(t *testing.T) {
	p := mustNew(t, Options{})
	e, ok := p.Line(`{"step": 1, "loss": 2}`, time.Time{})
	if !ok || e.TimeMs != 0 {
		t.Errorf("zero now: TimeMs = %d, ok %v", e.TimeMs, ok)
	}
	e, ok = p.Line(`{"step": 1, "loss": 2, "time": 1700000000.5}`, now)
	if !ok || e.TimeMs != 1700000000500 {
		t.Errorf("json time: TimeMs = %d, ok %v", e.TimeMs, ok)
	}
}

func FuzzLine(f *testing.F) {
	for _, s := range []string{
		`{"step": 10, "loss": 0.42}`,
		`{'loss': nan, 'epoch': 0.5}`,
		"Epoch 3:  45%|████▌     | 450/1000 [01:23<01:42,  5.37it/s, loss=0.123, lr=1e-4]",
		"step=100 loss=0.23",
		"Epoch [3/10], Step [100/500], Loss: 0.2345",
	} {
		f.Add(s)
	}
	p, err := New(Options{Regexes: []string{`s(?P<step>\d+) l(?P<loss>\S+)`}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, line string) {
		e, ok := p.Line(line, now)
		if !ok {
			return
		}
		if e.Step < -1 || e.Step > maxStep {
			t.Errorf("step %d", e.Step)
		}
		if !math.IsNaN(e.Epoch) && (e.Epoch < 0 || math.IsInf(e.Epoch, 0)) {
			t.Errorf("epoch %v", e.Epoch)
		}
		if e.TimeMs < 0 {
			t.Errorf("TimeMs %d", e.TimeMs)
		}
		if e.Values == nil {
			t.Error("nil Values in an ok entry")
		}
		if e.Step < 0 && math.IsNaN(e.Epoch) && len(e.Values) == 0 {
			t.Error("ok entry with nothing in it")
		}
		for k := range e.Values {
			if k == "" {
				t.Error("empty key")
			}
			if utf8.ValidString(line) && !utf8.ValidString(k) {
				t.Errorf("invalid UTF-8 key %q from a valid line", k)
			}
		}
		e2, ok2 := p.Line(line, now)
		if !ok2 || e2.Step != e.Step || len(e2.Values) != len(e.Values) {
			t.Error("not deterministic")
		}
	})
}

var benchLines = map[string]string{
	"plain":     "INFO 2026-11-28 12:34:56,789 trainer.py:123 Starting epoch, loading shards from /data/train",
	"traceback": `  File "/usr/lib/python3.11/site-packages/torch/nn/modules/module.py", line 1511, in _wrapped_call_impl`,
	"download":  "Downloading: 45%|████▌     | 1.2G/2.6G [00:10<00:12, 120MB/s]",
	"json":      `{"step": 10, "loss": 0.42, "lr": 0.0001, "epoch": 0.5}`,
	"hf":        `{'loss': 0.4321, 'grad_norm': 1.23, 'learning_rate': 4.5e-05, 'epoch': 0.5}`,
	"tqdm":      "Epoch 3:  45%|████▌     | 450/1000 [01:23<01:42,  5.37it/s, loss=0.123, lr=1e-4]",
	"lightning": "Epoch 0: 100%|██████████| 782/782 [00:30<00:00, 25.9it/s, v_num=0, train_loss=0.512, val_loss=0.48]",
	"kv":        "step=100 loss=0.23 lr=0.001 grad_norm=1.5",
}

func BenchmarkLine(b *testing.B) {
	p := mustNew(b, Options{})
	for _, name := range []string{"plain", "traceback", "download", "json", "hf", "tqdm", "lightning", "kv"} {
		line := benchLines[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.Line(line, now)
			}
		})
	}
}
