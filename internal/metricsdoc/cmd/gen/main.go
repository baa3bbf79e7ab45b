// Command gen regenerates the metric reference in docs/metrics.md from the
// code: it runs every metric source of the agent on the repository's
// fixtures and rewrites the page's generated regions (see package
// metricsdoc). Run it from anywhere in the repository:
//
//	go run ./internal/metricsdoc/cmd/gen
//
// With -check it writes nothing and exits with status 1 when the page is
// out of date.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/trainwatch/trainwatch/internal/metricsdoc"
)

func main() {
	check := flag.Bool("check", false, "only report whether "+metricsdoc.DocPath+" is up to date (exit 1 when not)")
	flag.Parse()
	if err := run(*check); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(check bool) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := metricsdoc.RepoRoot(wd)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := metricsdoc.Generate(ctx, root)
	if err != nil {
		return err
	}
	path := filepath.Join(root, metricsdoc.DocPath)
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	switch {
	case bytes.Equal(old, out):
		fmt.Println(metricsdoc.DocPath, "is up to date")
		return nil
	case check:
		return fmt.Errorf("%s is out of date; run %s", metricsdoc.DocPath, metricsdoc.Command)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return err
	}
	fmt.Println("wrote", metricsdoc.DocPath)
	return nil
}
