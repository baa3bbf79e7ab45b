//go:build !cgo

package metricsdoc

import "context"

func (g *gatherer) nvml(context.Context) ([]sourcedFamily, error) { return nil, ErrNeedsCgo }
