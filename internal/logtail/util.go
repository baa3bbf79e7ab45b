package logtail

import (
	"math"
	"os"
	"strconv"
	"strings"
)

// sameVersion reports whether a and b describe the same file with the same
// size and modification time: a file that has not been written in between.
func sameVersion(a, b os.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) &&
		a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// FNV-1a, 64 bit.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// fnvString folds s into the FNV-1a hash h.
func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// fnvUint64 folds the 8 bytes of v into the FNV-1a hash h.
func fnvUint64(h, v uint64) uint64 {
	for i := 0; i < 8; i++ {
		h ^= v & 0xff
		h *= fnvPrime
		v >>= 8
	}
	return h
}

// mix is the splitmix64 finaliser: it spreads the bits of a per-cell hash
// before cells are summed into an order-independent row fingerprint.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// parseNumber reads a logged value: a decimal or float literal, or the
// spellings of NaN and infinity that Python and others write (nan, inf,
// -inf, Infinity, NaN). Out-of-range literals become ±Inf.
func parseNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, true
		}
		return 0, false
	}
	return f, true
}

// stepNumber converts a logged step to an int64, or -1 when it is not a
// whole number >= 0 that fits.
func stepNumber(f float64) int64 {
	if f >= 0 && f == math.Trunc(f) && f <= 1<<62 {
		return int64(f)
	}
	return -1
}

// epochNumber keeps a finite epoch >= 0 and turns anything else into NaN,
// the runs.Entry spelling of "no epoch".
func epochNumber(f float64) float64 {
	if f >= 0 && !math.IsInf(f, 0) {
		return f
	}
	return math.NaN()
}
