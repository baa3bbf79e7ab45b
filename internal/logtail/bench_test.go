package logtail

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"
)

// benchCSV builds a Lightning-style metrics.csv of n rows.
func benchCSV(n int) []byte {
	var b bytes.Buffer
	b.WriteString("epoch,lr-Adam,step,train_loss_epoch,train_loss_step,val_acc,val_loss\r\n")
	for i := 0; i < n; i++ {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, ",%v,%d,,,,\r\n", 0.001*float64(n-i)/float64(n), i)
		case 1:
			fmt.Fprintf(&b, "%d,,%d,,%v,,\r\n", i/1000, i, 2.5/(1+float64(i)/25))
		default:
			fmt.Fprintf(&b, "%d,,%d,%v,,%v,%v\r\n", i/1000, i, 1.25, 0.5, 0.75)
		}
	}
	return b.Bytes()
}

// BenchmarkCSVPoll measures a first poll of a 10k-row metrics.csv (the
// whole file) and a poll that finds 10 appended rows.
func BenchmarkCSVPoll(b *testing.B) {
	data := benchCSV(10000)
	b.Run("10k-rows", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "metrics.csv")
		writeInPlace(b, path, data)
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			es, err := NewCSVReader(path).Poll()
			if err != nil || len(es) != 10000 {
				b.Fatalf("%d entries, %v", len(es), err)
			}
		}
	})
	b.Run("append-10-rows", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "metrics.csv")
		writeInPlace(b, path, data)
		r := NewCSVReader(path)
		mustPoll(b, r)
		rows := benchCSV(10)
		rows = rows[bytes.IndexByte(rows, '\n')+1:]
		b.ReportAllocs()
		for b.Loop() {
			appendFile(b, path, rows)
			if es := mustPoll(b, r); len(es) != 10 {
				b.Fatalf("%d entries", len(es))
			}
		}
	})
}

// benchEvents builds an event file of n records: a file_version event and
// n-1 simple_value scalars.
func benchEvents(n int) []byte {
	var b []byte
	b = append(b, testFrame(pbString(pbDouble(nil, 1, 1.7e9), 3, "brain.Event:2"))...)
	for i := 1; i < n; i++ {
		tag := "train/loss"
		if i%2 == 0 {
			tag = "train/lr"
		}
		b = append(b, testFrame(testEvent(1.7e9+float64(i), int64(i), testSimple(tag, float32(i)/1000)))...)
	}
	return b
}

// BenchmarkEventsPoll measures a first poll of a 10k-record event file and
// a poll that finds 10 appended records.
func BenchmarkEventsPoll(b *testing.B) {
	data := benchEvents(10000)
	b.Run("10k-records", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "events.out.tfevents.bench")
		writeInPlace(b, path, data)
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			es, err := NewEventsReader(path).Poll()
			if err != nil || len(es) != 9999 {
				b.Fatalf("%d entries, %v", len(es), err)
			}
		}
	})
	b.Run("append-10-records", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "events.out.tfevents.bench")
		writeInPlace(b, path, data)
		r := NewEventsReader(path)
		mustPoll(b, r)
		more := benchEvents(11)
		more = more[len(testFrame(pbString(pbDouble(nil, 1, 1.7e9), 3, "brain.Event:2"))):]
		b.ReportAllocs()
		for b.Loop() {
			appendFile(b, path, more)
			if es := mustPoll(b, r); len(es) != 10 {
				b.Fatalf("%d entries", len(es))
			}
		}
	})
}

// BenchmarkTrainerStatePoll measures reading a trainer_state.json with
// 10k log_history entries (what a long run's checkpoint holds).
func BenchmarkTrainerStatePoll(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString(`{"global_step": 100000, "max_steps": 100000, "num_train_epochs": 3, "log_history": [`)
	for i := 0; i < 10000; i++ {
		if i > 0 {
			buf.WriteString(",")
		}
		fmt.Fprintf(&buf, "\n    {\n      \"epoch\": %v,\n      \"grad_norm\": %v,\n      \"learning_rate\": %v,\n      \"loss\": %v,\n      \"step\": %d\n    }",
			float64(i)/3333, 1.0/float64(i+1), 5e-5*float64(10000-i)/10000, 2.0/float64(i+1), (i+1)*10)
	}
	buf.WriteString("\n  ]\n}\n")
	dir := b.TempDir()
	writeInPlace(b, filepath.Join(dir, TrainerStateFile), buf.Bytes())
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	for b.Loop() {
		es, err := NewTrainerStateReader(dir).Poll()
		if err != nil || len(es) != 10000 {
			b.Fatalf("%d entries, %v", len(es), err)
		}
	}
}
