package cpu

import (
	"errors"
	"testing"

	"github.com/trainwatch/trainwatch/internal/hostfs"
)

func TestParseLoadavg(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    [3]float64
		wantErr string
	}{
		{name: "normal", in: "0.52 0.58 0.59 1/351 12345\n", want: [3]float64{0.52, 0.58, 0.59}},
		{name: "integers", in: "1 2 3 1/1 1", want: [3]float64{1, 2, 3}},
		{name: "empty", in: "", wantErr: "/proc/loadavg:1: empty file; expected three load averages (line: \"\")"},
		{name: "short", in: "0.1 0.2\n", wantErr: "/proc/loadavg:1: expected at least 3 fields, got 2 (line: \"0.1 0.2\")"},
		{name: "garbage", in: "0.1 x 0.3 1/1 1\n", wantErr: "/proc/loadavg:1: field 2: \"x\" is not a number (line: \"0.1 x 0.3 1/1 1\")"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseLoadavg("/proc/loadavg", []byte(tt.in))
			if tt.wantErr != "" {
				var pe *hostfs.ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("err = %v, want a *hostfs.ParseError", err)
				}
				if err.Error() != tt.wantErr {
					t.Fatalf("err = %q, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}
