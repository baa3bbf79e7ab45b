package systemd

import (
	"os"
	"strings"
	"testing"
)

func TestUnitIsTheFile(t *testing.T) {
	b, err := os.ReadFile(UnitName)
	if err != nil {
		t.Fatal(err)
	}
	if Unit() != string(b) {
		t.Fatal("Unit() differs from trainwatch.service")
	}
	for _, want := range []string{
		"\nExecStart=/usr/local/bin/trainwatch serve --data-dir " + DataDir + "\n",
		"\nStateDirectory=trainwatch\n",
		"\nDynamicUser=yes\n",
		"\nExecReload=/bin/kill -HUP $MAINPID\n",
	} {
		if !strings.Contains(Unit(), want) {
			t.Errorf("trainwatch.service lacks %q", strings.TrimSpace(want))
		}
	}
}

func TestRender(t *testing.T) {
	const base = "serve --data-dir /var/lib/trainwatch"
	tests := []struct {
		name    string
		opts    Options
		want    string // the ExecStart= value
		wantErr string
	}{
		{"shipped", Options{}, "/usr/local/bin/trainwatch " + base, ""},
		{"binary", Options{Binary: "/opt/trainwatch/bin/trainwatch"}, "/opt/trainwatch/bin/trainwatch " + base, ""},
		{"config and listen", Options{Binary: "/usr/bin/trainwatch", Config: "/etc/trainwatch/trainwatch.yml", Listen: ":9835"},
			"/usr/bin/trainwatch " + base + " --config /etc/trainwatch/trainwatch.yml --listen :9835", ""},
		{"IPv6 listen", Options{Listen: "[::1]:9835"}, "/usr/local/bin/trainwatch " + base + " --listen [::1]:9835", ""},
		{"spaces and specifiers", Options{Binary: "/opt/my tools/trainwatch", Config: "/etc/tw/100%.yml"},
			`"/opt/my tools/trainwatch" ` + base + " --config /etc/tw/100%%.yml", ""},
		{"dollar", Options{Config: "/etc/$HOME.yml"}, "/usr/local/bin/trainwatch " + base + " --config /etc/$$HOME.yml", ""},
		{"dollar in the binary", Options{Binary: "/opt/$x/trainwatch"}, "/opt/$x/trainwatch " + base, ""},
		{"quote in the binary", Options{Binary: `/opt/"x"/trainwatch`}, "", "systemd does not run an executable whose path has quotes"},
		{"quote and backslash", Options{Config: `/etc/a"b\c.yml`}, "/usr/local/bin/trainwatch " + base + ` --config "/etc/a\"b\\c.yml"`, ""},
		{"relative binary", Options{Binary: "trainwatch"}, "", `binary "trainwatch": must be an absolute path`},
		{"relative config", Options{Config: "tw.yml"}, "", `config "tw.yml": must be an absolute path`},
		{"bad listen", Options{Listen: "9835"}, "", `listen "9835": want host:port`},
		{"newline", Options{Binary: "/opt/a\nb"}, "", "control characters cannot be written into a unit file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Render(tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// Only the ExecStart= line differs from the shipped unit.
			gl, sl := strings.Split(got, "\n"), strings.Split(Unit(), "\n")
			if len(gl) != len(sl) {
				t.Fatalf("%d lines, shipped unit has %d", len(gl), len(sl))
			}
			for i := range gl {
				if strings.HasPrefix(sl[i], "ExecStart=") {
					if gl[i] != "ExecStart="+tt.want {
						t.Errorf("line %d: %s\nwant ExecStart=%s", i+1, gl[i], tt.want)
					}
				} else if gl[i] != sl[i] {
					t.Errorf("line %d changed: %q, shipped %q", i+1, gl[i], sl[i])
				}
			}
		})
	}
}

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/usr/bin/trainwatch", "/usr/bin/trainwatch"},
		{"", `""`},
		{"a b", `"a b"`},
		{"tab\there", "\"tab\there\""},
		{"50%", "50%%"},
		{"$X", "$$X"},
		{"it's", `"it's"`},
		{`say "hi"`, `"say \"hi\""`},
		{`C:\x`, `"C:\\x"`},
		{"a;b", `"a;b"`},
		{"%h $USER x", `"%%h $$USER x"`},
	}
	for _, tt := range tests {
		got, err := Quote(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Quote(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := Quote("a\nb"); err == nil {
		t.Error("Quote accepted a newline")
	}
}
