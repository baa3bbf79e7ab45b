package logtail

import (
	"bytes"
	"path/filepath"
	"testing"
)

// FuzzCSV checks that a metrics.csv read in two polls (cut anywhere) reads
// the same as in one, that a later poll adds nothing, and that neither the
// same content written again nor a Lightning-style rewrite with a new
// column emits a row twice.
func FuzzCSV(f *testing.F) {
	for _, name := range []string{"metrics-1.csv", "metrics-2.csv", "metrics-3.csv"} {
		b := fixture(f, name)
		f.Add(b, uint16(len(b)/2))
	}
	f.Add([]byte("step,\"a,b\",c\r\n1,\"2\",3\r\n\r\n4,5"), uint16(9))
	f.Add([]byte("\n\ufeffepoch,step,x\n0,1,nan\n"), uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		dir := t.TempDir()
		whole := filepath.Join(dir, "whole.csv")
		writeInPlace(t, whole, data)
		want := fmtEntries(mustPoll(t, NewCSVReader(whole)))

		path := filepath.Join(dir, "metrics.csv")
		r := NewCSVReader(path)
		k := int(split) % (len(data) + 1)
		writeInPlace(t, path, data[:k])
		got := fmtEntries(mustPoll(t, r))
		appendFile(t, path, data[k:])
		got = append(got, fmtEntries(mustPoll(t, r))...)
		sameLines(t, "two polls", got, want)
		if again := mustPoll(t, r); len(again) != 0 {
			t.Fatalf("third poll: %q", fmtEntries(again))
		}
		replaceFile(t, path, data)
		if again := mustPoll(t, r); len(again) != 0 {
			t.Fatalf("same content rewritten: %q", fmtEntries(again))
		}
		if wide, ok := widenCSV(data); ok {
			writeInPlace(t, path, wide)
			if again := mustPoll(t, r); len(again) != 0 {
				t.Fatalf("rewritten with a new column: %q", fmtEntries(again))
			}
		}
	})
}

// widenCSV rewrites a CSV the way Lightning does when a key appears: one
// more header column, every row one more (empty) cell. ok is false for
// inputs where that is not well defined: quotes, blank or unterminated
// lines, rows whose width differs from the header's.
func widenCSV(data []byte) (wide []byte, ok bool) {
	if len(data) == 0 || data[len(data)-1] != '\n' || bytes.Contains(data, []byte(`"`)) {
		return nil, false
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	lines = lines[:len(lines)-1] // the empty string after the last \n
	commas := bytes.Count(lines[0], []byte(","))
	for i, l := range lines {
		body := bytes.TrimRight(l, "\r\n")
		if len(bytes.TrimSpace(body)) == 0 || bytes.Count(l, []byte(",")) != commas {
			return nil, false
		}
		cell := ","
		if i == 0 {
			cell = ",zz_new_key"
		}
		wide = append(wide, body...)
		wide = append(wide, cell...)
		wide = append(wide, l[len(body):]...)
	}
	return wide, true
}

// FuzzTrainerState checks that any document parses or fails without a
// panic, and that a parsed one's entries are returned once.
func FuzzTrainerState(f *testing.F) {
	for _, name := range []string{
		"hf/checkpoint-500/trainer_state.json", "hf/checkpoint-1000/trainer_state.json",
		"hf/trainer_state.json", "hf/trainer_state-torn.json",
	} {
		f.Add(fixture(f, name))
	}
	f.Add([]byte(`{"log_history": [{"a": NaN, "b": -Infinity, "note": "Infinity\"", "step": 1e3}]}`))
	f.Add([]byte(`{"global_step": -1, "max_steps": 1e400, "num_train_epochs": "x", "log_history": null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := parseTrainerState(data)
		if err != nil {
			return
		}
		if st.globalStep < 0 || st.maxSteps < 0 || st.numTrainEpochs < 0 {
			t.Fatalf("negative totals: %+v", st)
		}
		withValues := 0
		for _, le := range st.log {
			if len(le.entry.Values) > 0 {
				withValues++
			}
		}
		dir := t.TempDir()
		writeInPlace(t, filepath.Join(dir, TrainerStateFile), data)
		r := NewTrainerStateReader(dir)
		if got := mustPoll(t, r); len(got) != withValues {
			t.Fatalf("%d entries, want %d", len(got), withValues)
		}
		if got := mustPoll(t, r); len(got) != 0 {
			t.Fatalf("second poll: %d entries", len(got))
		}
	})
}

// FuzzEvents checks that an event file read in two polls (cut anywhere)
// reads the same as in one, whatever its bytes. With framed set, data is
// wrapped in valid TFRecord frames (twice), so that the protobuf decoding
// is what gets fuzzed.
func FuzzEvents(f *testing.F) {
	for _, name := range []string{tbTorch, tbTF2} {
		b := fixture(f, name)
		f.Add(b, false, uint16(len(b)/3))
		for i, rec := range testRecords(f, b) {
			if i%4 == 0 {
				f.Add(rec, true, uint16(i))
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, framed bool, split uint16) {
		file := data
		if framed {
			file = append(testFrame(data), testFrame(data)...)
		}
		dir := t.TempDir()
		pollAll := func(r *EventsReader) []string {
			var out []string
			for i := 0; i < 3; i++ { // a CRC mismatch is reported at the second poll
				es, _ := r.Poll()
				out = append(out, fmtEntries(es)...)
			}
			return out
		}
		whole := filepath.Join(dir, "events.out.tfevents.whole")
		writeInPlace(t, whole, file)
		want := pollAll(NewEventsReader(whole))

		path := filepath.Join(dir, "events.out.tfevents.split")
		r := NewEventsReader(path)
		k := int(split) % (len(file) + 1)
		writeInPlace(t, path, file[:k])
		es, _ := r.Poll()
		got := fmtEntries(es)
		appendFile(t, path, file[k:])
		got = append(got, pollAll(r)...)
		sameLines(t, "two polls", got, want)
		if r.Offset() > int64(len(file)) {
			t.Fatalf("offset %d past the end %d", r.Offset(), len(file))
		}
	})
}
