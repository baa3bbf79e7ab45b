// Command buildinfo prints what /api/v1/status/buildinfo answers in a real
// binary, whose build information (unlike a test binary's) lists the
// modules it was built with. TestBuildInfoBinary builds and runs it.
package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/trainwatch/trainwatch/internal/promapi"
	"github.com/trainwatch/trainwatch/internal/store"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	dir, err := os.MkdirTemp("", "trainwatch-buildinfo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(store.Options{Dir: dir, Instance: "buildinfo:9400"})
	if err != nil {
		return err
	}
	defer st.Close()
	api, err := promapi.New(promapi.Options{Store: st, Version: "test"})
	if err != nil {
		return err
	}
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/status/buildinfo", nil))
	if rec.Code != http.StatusOK {
		return fmt.Errorf("status %d: %s", rec.Code, rec.Body)
	}
	_, err = os.Stdout.Write(rec.Body.Bytes())
	return err
}
