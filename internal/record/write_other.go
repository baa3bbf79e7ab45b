//go:build !unix

package record

import "os"

// writeOnce writes b. Platforms other than Unix have no O_APPEND atomicity
// guarantee; the line is still written by one call.
func writeOnce(f *os.File, b []byte) (int, error) { return f.Write(b) }
