//go:build !race

package promapi

// raceEnabled reports whether the test binary runs with the race detector.
const raceEnabled = false
