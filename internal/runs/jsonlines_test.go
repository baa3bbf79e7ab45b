package runs

import (
	"math"
	"strings"
	"testing"
)

func TestParseLines(t *testing.T) {
	for _, c := range []struct {
		name, body string
		n          int
		check      func(t *testing.T, es []Entry)
		err        string
	}{
		{name: "one object", body: `{"step": 10, "loss": 0.42, "lr": 3e-4}`, n: 1, check: func(t *testing.T, es []Entry) {
			if es[0].Step != 10 || es[0].Values["loss"] != 0.42 || es[0].Values["lr"] != 3e-4 || !math.IsNaN(es[0].Epoch) || es[0].TimeMs != 0 {
				t.Errorf("%+v", es[0])
			}
		}},
		{name: "ndjson with blank lines", body: "{\"step\": 1, \"loss\": 1}\n\n{\"step\": 2, \"loss\": 0.5, \"epoch\": 0.25, \"time\": 1764350000.5}\n", n: 2, check: func(t *testing.T, es []Entry) {
			if es[1].Epoch != 0.25 || es[1].TimeMs != 1764350000500 {
				t.Errorf("%+v", es[1])
			}
		}},
		{name: "array", body: `[{"step": 1}, {"step": 2, "acc": true}]`, n: 2, check: func(t *testing.T, es []Entry) {
			if es[1].Values["acc"] != 1 {
				t.Errorf("%+v", es[1])
			}
		}},
		{name: "python non-finite", body: `{"loss": NaN, "g": Infinity, "h": -Infinity, "s": "NaN in a string"}`, err: `key "s": "NaN in a string" is not a number`},
		{name: "python non-finite ok", body: `{"loss": NaN, "g": Infinity, "h": -Infinity, "i": "-inf"}`, n: 1, check: func(t *testing.T, es []Entry) {
			v := es[0].Values
			if !math.IsNaN(v["loss"]) || !math.IsInf(v["g"], 1) || !math.IsInf(v["h"], -1) || !math.IsInf(v["i"], -1) {
				t.Errorf("%+v", v)
			}
		}},
		{name: "empty", body: "  \n", err: "empty body"},
		{name: "not json", body: "loss=0.4\n", err: "line 1: not a JSON object"},
		{name: "second line bad", body: "{\"a\": 1}\n{\"a\": \"x\"}\n", err: `line 2: key "a": "x" is not a number`},
		{name: "negative step", body: `{"step": -1}`, err: `key "step": -1 is not a step number`},
		{name: "fractional step", body: `{"step": 1.5}`, err: "is not a step number"},
		{name: "bad epoch", body: `{"epoch": NaN}`, err: `key "epoch"`},
		{name: "bad time", body: `{"time": "yesterday"}`, err: `key "time"`},
		{name: "null", body: `{"loss": null}`, err: "null is not a number"},
		{name: "nested", body: `{"loss": {"a": 1}}`, err: "is not a number"},
		{name: "two values on a line", body: `{"a": 1} {"b": 2}`, err: "more than one JSON value"},
		{name: "bad array", body: `[{"a": 1}, 3]`, err: "line 2: not a JSON object"},
	} {
		t.Run(c.name, func(t *testing.T) {
			es, err := ParseLines([]byte(c.body))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || len(es) != c.n {
				t.Fatalf("got %d entries, %v; want %d", len(es), err, c.n)
			}
			if c.check != nil {
				c.check(t, es)
			}
		})
	}
}

func TestQuoteNonFinite(t *testing.T) {
	for in, want := range map[string]string{
		`{"a": NaN}`:                      `{"a": "NaN"}`,
		`{"a": -Infinity, "b": Infinity}`: `{"a": "-Infinity", "b": "Infinity"}`,
		`{"NaN": "Infinity \" NaN"}`:      `{"NaN": "Infinity \" NaN"}`,
		`{"a": 1}`:                        `{"a": 1}`,
	} {
		if got := string(QuoteNonFinite([]byte(in))); got != want {
			t.Errorf("QuoteNonFinite(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestSeriesName(t *testing.T) {
	for in, want := range map[string]string{
		"loss": "training_loss", "train_loss": "training_loss", "val_loss": "validation_loss", "eval_loss": "validation_loss",
		"lr": "learning_rate", "batch_time": "batch_processing_time", "train_samples_per_second": "samples_per_second",
		"tokens_per_second": "tokens_per_second", "grad_norm": "grad_norm", "train/acc": "train_acc", "9lives": "_lives", "a.b-c": "a_b_c",
	} {
		if got := seriesName(in); got != want {
			t.Errorf("seriesName(%q) = %q, want %q", in, got, want)
		}
	}
}
