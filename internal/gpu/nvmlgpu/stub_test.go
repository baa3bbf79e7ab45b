//go:build !cgo

package nvmlgpu

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// TestStubWithoutCgo: built without cgo, the collector reports the
// backend down with the reason.
func TestStubWithoutCgo(t *testing.T) {
	c, err := NewSystem(Config{})
	if err != nil {
		t.Fatal(err)
	}
	e := collector.NewEmitter()
	err = c.Collect(context.Background(), e)
	if !errors.Is(err, collector.ErrNoData) || !strings.Contains(err.Error(), "built without cgo") {
		t.Fatalf("err = %v", err)
	}
	fams := e.Families()
	if len(fams) != 1 || fams[0].Desc.Name != "trainwatch_gpu_backend_up" || fams[0].Samples[0].Value != 0 {
		t.Fatalf("families %v", fams)
	}
	if c.Name() != "gpu" || c.Close() != nil {
		t.Fatal("name or close")
	}
}
