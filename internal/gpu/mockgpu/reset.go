//go:build cgo

package mockgpu

import (
	"reflect"

	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
)

// ResetCalls forgets every call the server's and its devices' mocks have
// recorded, keeping their behaviour. go-nvml's generated mocks append each
// call's arguments to a slice for XxxCalls(), which in a long-running demo
// grows without bound (GpmMetricsGet keeps its whole argument struct).
// It must only be called while no call on srv is in flight.
func ResetCalls(srv *server.Server) {
	resetRecorder(&srv.Interface)
	resetRecorder(&srv.ExtendedInterface)
	for _, d := range srv.Devices {
		if sd, ok := d.(*server.Device); ok {
			resetRecorder(&sd.Device)
		}
	}
}

// resetRecorder replaces *p by a fresh value with the same exported (Func)
// fields: the unexported call records and their locks start empty.
func resetRecorder[T any](p *T) {
	old := reflect.ValueOf(p).Elem()
	fresh := reflect.New(old.Type()).Elem()
	for i := 0; i < old.NumField(); i++ {
		if old.Type().Field(i).IsExported() {
			fresh.Field(i).Set(old.Field(i))
		}
	}
	old.Set(fresh)
}
