// Package rules holds trainwatch's built-in alert rule pack: Prometheus rule
// files (trainwatch.rules.yml) for GPU health, the host, training runs and
// the agent itself, usable as they are by any Prometheus that scrapes
// trainwatch, and embedded here so that the agent can load them with no
// file on disk. Their promtool unit tests are in rules/tests.
package rules

import (
	"embed"
	"io/fs"
	"sort"
)

// FS holds the built-in rule files (*.rules.yml) at its root. Read the names
// with Files.
//
//go:embed *.rules.yml
var FS embed.FS

// Files returns the names of the built-in rule files in FS, sorted.
func Files() []string {
	ents, err := fs.ReadDir(FS, ".")
	if err != nil {
		// The root of an embed.FS is always readable.
		panic(err)
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}
