package main

import "testing"

func TestStatThreads(t *testing.T) {
	for _, tc := range []struct {
		stat string
		want int
	}{
		{"1 (systemd) S 0 1 1 0 -1 4194560 1 0 0 0 1 1 0 0 20 0 4 0 1 1 1\n", 4},
		{"2519 (python3 (x) y) R 1 2519 2519 0 -1 4194304 5 0 0 0 10 2 0 0 20 0 12 0 77 1\n", 12},
		{"7 (kworker/0:1) I 2 0 0 0 -1 69238880 0 0 0 0 0 0 0 0 20 0 1 0 3 0", 1},
		{"7 (short) S 1 2", 0},
		{"no parenthesis", 0},
	} {
		if got := statThreads([]byte(tc.stat)); got != tc.want {
			t.Errorf("statThreads(%q) = %d, want %d", tc.stat, got, tc.want)
		}
	}
}
