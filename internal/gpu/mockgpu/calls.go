//go:build cgo

package mockgpu

import (
	"reflect"
	"strings"

	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
)

// Calls returns how often each method of a go-nvml mock was called, read
// from its XxxCalls() recorders: keys are method names ("GetPowerUsage"),
// only methods called at least once appear. m is a *server.Server, a
// *server.Device, or any mock type (*mock.Device, *mock.EventSet, ...).
func Calls(m any) map[string]int {
	out := map[string]int{}
	v := reflect.ValueOf(m)
	t := v.Type()
	for k := 0; k < t.NumMethod(); k++ {
		meth := t.Method(k)
		name, ok := strings.CutSuffix(meth.Name, "Calls")
		if !ok || name == "" || meth.Type.NumIn() != 1 || meth.Type.NumOut() != 1 ||
			meth.Type.Out(0).Kind() != reflect.Slice {
			continue
		}
		if n := v.Method(k).Call(nil)[0].Len(); n > 0 {
			out[name] = n
		}
	}
	return out
}

// ServerCalls returns the calls made on the server itself (library-level
// calls such as Init, GpmMetricsGet) and on all its devices together, keyed
// "Init", "Device.GetPowerUsage", ....
func ServerCalls(srv *server.Server) map[string]int {
	out := Calls(srv)
	for _, d := range srv.Devices {
		for name, n := range Calls(d.(*server.Device)) {
			out["Device."+name] += n
		}
	}
	return out
}

// Total sums a Calls map.
func Total(calls map[string]int) int {
	n := 0
	for _, c := range calls {
		n += c
	}
	return n
}
