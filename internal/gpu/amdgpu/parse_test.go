package amdgpu

import (
	"errors"
	"reflect"
	"testing"

	"github.com/trainwatch/trainwatch/internal/hostfs"
)

func TestParseLinkGen(t *testing.T) {
	tests := []struct {
		in      string
		want    float64
		wantErr string
	}{
		{"2.5 GT/s PCIe\n", 1, ""},
		{"5.0 GT/s PCIe\n", 2, ""},
		{"8.0 GT/s PCIe\n", 3, ""},
		{"16.0 GT/s PCIe\n", 4, ""},
		{"32.0 GT/s PCIe\n", 5, ""},
		{"64.0 GT/s PCIe\n", 6, ""},
		{"8 GT/s\n", 3, ""}, // kernels before 4.16
		{"5 GT/s\n", 2, ""},
		{"Unknown\n", 0, `/sys/x/current_link_speed:1: expected a PCIe link speed such as "16.0 GT/s PCIe" (line: "Unknown")`},
		{"Unknown speed\n", 0, `/sys/x/current_link_speed:1: expected a PCIe link speed such as "16.0 GT/s PCIe" (line: "Unknown speed")`},
		{"3.0 GT/s PCIe\n", 0, `/sys/x/current_link_speed:1: expected a PCIe link speed such as "16.0 GT/s PCIe" (line: "3.0 GT/s PCIe")`},
		{"", 0, `/sys/x/current_link_speed:1: expected a PCIe link speed such as "16.0 GT/s PCIe" (line: "")`},
	}
	for _, tt := range tests {
		got, err := parseLinkGen("/sys/x/current_link_speed", []byte(tt.in))
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("%q: err = %v\nwant %s", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: got %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseNumber(t *testing.T) {
	tests := []struct {
		in      string
		want    float64
		wantErr string
	}{
		{"87\n", 87, ""},
		{"206158430208\n", 206158430208, ""},
		{"-1\n", -1, ""},
		{"\n", 0, `/sys/x/gpu_busy_percent:1: expected a number (line: "")`},
		{"N/A\n", 0, `/sys/x/gpu_busy_percent:1: expected a number (line: "N/A")`},
	}
	for _, tt := range tests {
		got, err := parseNumber("/sys/x/gpu_busy_percent", []byte(tt.in))
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("%q: err = %v\nwant %s", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: got %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestListCards(t *testing.T) {
	got := listCards([]string{"renderD128", "card10", "card1-DP-1", "card2", "version", "card", "cardx", "card0", "card0-eDP-1", "ttm"})
	want := []string{"card0", "card2", "card10"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestParseUevent(t *testing.T) {
	u := parseUevent([]byte("DRIVER=amdgpu\nPCI_CLASS=120000\nPCI_ID=1002:74A1\nPCI_SLOT_NAME=0000:05:00.0\nno equals sign\n"))
	if u != (uevent{driver: "amdgpu", pciID: "1002:74A1", slot: "0000:05:00.0"}) {
		t.Errorf("got %+v", u)
	}
	if u := parseUevent([]byte("PCI_CLASS=30000\n")); u.driver != "" {
		t.Errorf("unbound device: driver %q", u.driver)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true},
		{"4096", 4096, true},
		{"12 B", 12, true},
		{"41943040 KiB", 41943040 << 10, true},
		{"262144 kB", 262144 << 10, true},
		{"3 MiB", 3 << 20, true},
		{"2 GiB", 2 << 30, true},
		{"1 TiB", 0, false},
		{"lots KiB", 0, false},
		{"-1 KiB", 0, false},
		{"18446744073709551615 KiB", 0, false}, // overflows
	}
	for _, tt := range tests {
		got, ok := parseSize([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseSize(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseFdinfo(t *testing.T) {
	const head = "pos:\t0\nflags:\t02100002\nmnt_id:\t26\nino:\t1107\n"
	tests := []struct {
		name    string
		in      string
		want    drmClient
		wantErr string
	}{
		{
			name: "amdgpu, kernel 6.x: drm-memory-vram preferred to the common keys",
			in: head + "drm-driver:\tamdgpu\ndrm-client-id:\t17\ndrm-pdev:\t0000:05:00.0\npasid:\t32785\n" +
				"drm-total-vram:\t9 KiB\ndrm-resident-vram:\t8 KiB\ndrm-memory-vram:\t7 KiB\ndrm-memory-gtt:\t2048 KiB\n" +
				"drm-engine-gfx:\t12 ns\ndrm-engine-compute:\t1000000000 ns\ndrm-engine-dma:\t5 ns\n",
			want: drmClient{amdgpu: true, pdev: []byte("0000:05:00.0"), id: 17, hasID: true, vram: 7 << 10, hasVRAM: true,
				gfx: 12, hasGfx: true, compute: 1000000000, hasCompute: true},
		},
		{
			name: "common keys only: resident before total",
			in:   "drm-driver:\tamdgpu\ndrm-client-id:\t4\ndrm-pdev:\t0000:03:00.0\ndrm-total-vram:\t131072 KiB\ndrm-resident-vram:\t65536 KiB\n",
			want: drmClient{amdgpu: true, pdev: []byte("0000:03:00.0"), id: 4, hasID: true, vram: 65536 << 10, hasVRAM: true},
		},
		{
			name: "amdgpu before 5.19: pdev, pasid as the id, vram mem in kB; percentages ignored",
			in:   head + "pdev:\t0000:03:00.0\npasid:\t32769\nvram mem:\t262144 kB\ngtt mem:\t16384 kB\ncpu mem:\t0 kB\ngfx0:\t3.2%\n",
			want: drmClient{amdgpu: true, pdev: []byte("0000:03:00.0"), id: 32769, hasID: true, vram: 262144 << 10, hasVRAM: true},
		},
		{
			name: "engine capacity",
			in:   "drm-driver:\tamdgpu\ndrm-pdev:\t0000:05:00.0\ndrm-engine-compute:\t8 ns\ndrm-engine-capacity-compute:\t4\ndrm-engine-capacity-gfx:\t1\n",
			want: drmClient{amdgpu: true, pdev: []byte("0000:05:00.0"), compute: 8, hasCompute: true, computeCap: 4, gfxCap: 1},
		},
		{
			name: "another driver",
			in:   "drm-driver:\ti915\ndrm-client-id:\t5\ndrm-pdev:\t0000:00:02.0\ndrm-engine-render:\t123456 ns\n",
			want: drmClient{pdev: []byte("0000:00:02.0"), id: 5, hasID: true},
		},
		{
			name: "not a DRM file",
			in:   head + "eventfd-count: 0\neventfd-id: 7\n",
			want: drmClient{},
		},
		{
			name:    "bad client id",
			in:      "drm-driver:\tamdgpu\ndrm-client-id:\tx\n",
			wantErr: `/proc/1/fdinfo/4:2: drm-client-id "x" is not an unsigned integer (line: "drm-client-id:\tx")`,
		},
		{
			name:    "bad VRAM size",
			in:      "drm-driver:\tamdgpu\ndrm-memory-vram:\tlots KiB\n",
			wantErr: `/proc/1/fdinfo/4:2: drm-memory-vram "lots KiB" is not a size ("<n> KiB", "<n> MiB" or bytes) (line: "drm-memory-vram:\tlots KiB")`,
		},
		{
			name:    "bad VRAM unit",
			in:      "vram mem:\t5 pages\n",
			wantErr: `/proc/1/fdinfo/4:1: vram mem "5 pages" is not a size ("<n> KiB", "<n> MiB" or bytes) (line: "vram mem:\t5 pages")`,
		},
		{
			name:    "engine time without unit",
			in:      "drm-driver:\tamdgpu\ndrm-engine-gfx:\t12\n",
			wantErr: `/proc/1/fdinfo/4:2: drm-engine-gfx "12" is not a busy time ("<n> ns") (line: "drm-engine-gfx:\t12")`,
		},
		{
			name:    "engine time not a number",
			in:      "drm-engine-compute:\t1.5 ns\n",
			wantErr: `/proc/1/fdinfo/4:1: drm-engine-compute "1.5 ns" is not a busy time ("<n> ns") (line: "drm-engine-compute:\t1.5 ns")`,
		},
		{
			name:    "zero capacity",
			in:      "drm-engine-capacity-gfx:\t0\n",
			wantErr: `/proc/1/fdinfo/4:1: drm-engine-capacity-gfx "0" is not a positive integer (line: "drm-engine-capacity-gfx:\t0")`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := drmClient{id: 99, amdgpu: true} // reset by parseFdinfo
			err := parseFdinfo("/proc/1/fdinfo/4", []byte(tt.in), &c)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v\nwant  %s", err, tt.wantErr)
				}
				var pe *hostfs.ParseError
				if !errors.As(err, &pe) {
					t.Errorf("%T is not a *hostfs.ParseError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(c.pdev) != string(tt.want.pdev) {
				t.Errorf("pdev = %q, want %q", c.pdev, tt.want.pdev)
			}
			c.pdev, tt.want.pdev = nil, nil
			if !reflect.DeepEqual(c, tt.want) {
				t.Errorf("got  %+v\nwant %+v", c, tt.want)
			}
		})
	}
}
