package filesystem

import (
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector/collectortest"

	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// parseAll parses every line of a mountinfo file with parseMountLine.
func parseAll(file, in string) ([]mountLine, error) {
	var out []mountLine
	var fields [][]byte
	l := hostfs.NewLines(file, []byte(in))
	for l.Next() {
		m, f, err := parseMountLine(l, fields)
		fields = f
		if err != nil {
			return out, err
		}
		out = append(out, m)
	}
	return out, nil
}

func TestParseMountLine(t *testing.T) {
	type want struct {
		major, minor, mp, opts, fstype, source, super string
	}
	tests := []struct {
		name    string
		in      string
		want    []want
		wantErr string
	}{
		{
			name: "optional fields",
			in:   "51 22 8:17 / /mnt/archive rw,relatime shared:440 master:2 - ext4 /dev/sdb1 ro,errors=remount-ro\n",
			want: []want{{"8", "17", "/mnt/archive", "rw,relatime", "ext4", "/dev/sdb1", "ro,errors=remount-ro"}},
		},
		{
			name: "no optional fields, escaped mount point kept escaped",
			in:   "47 22 0:37 / /mnt/a\\040b rw,relatime - overlay overlay rw,lowerdir=/x",
			want: []want{{"0", "37", `/mnt/a\040b`, "rw,relatime", "overlay", "overlay", "rw,lowerdir=/x"}},
		},
		{
			name: "empty source",
			in:   "52 22 0:38 / /mnt/shared rw,relatime shared:450 - fuse.sshfs  rw,user_id=0\n",
			want: []want{{"0", "38", "/mnt/shared", "rw,relatime", "fuse.sshfs", "", "rw,user_id=0"}},
		},
		{
			name:    "too short",
			in:      "22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n22 1 259:2 /\n",
			wantErr: `/proc/1/mountinfo:2: expected 6 fields, optional fields and a "-" separator, got 4 fields and no separator (line: "22 1 259:2 /")`,
		},
		{
			name:    "no separator",
			in:      "22 1 259:2 / / rw,relatime shared:1 ext4 /dev/nvme0n1p2 rw\n",
			wantErr: `/proc/1/mountinfo:1: expected 6 fields, optional fields and a "-" separator, got 10 fields and no separator (line: "22 1 259:2 / / rw,relatime shared:1 ext4 /dev/nvme0n1p2 rw")`,
		},
		{
			name:    "nothing after the separator but the type",
			in:      "22 1 259:2 / / rw,relatime - ext4\n",
			wantErr: `/proc/1/mountinfo:1: expected file system type, source and super options after the separator, got 1 fields (line: "22 1 259:2 / / rw,relatime - ext4")`,
		},
		{
			name:    "too much after the separator",
			in:      "22 1 259:2 / / rw,relatime - ext4 /dev/a rw extra\n",
			wantErr: `/proc/1/mountinfo:1: expected file system type, source and super options after the separator, got 4 fields (line: "22 1 259:2 / / rw,relatime - ext4 /dev/a rw extra")`,
		},
		{
			name:    "major:minor without colon",
			in:      "22 1 2592 / / rw - ext4 /dev/a rw\n",
			wantErr: `/proc/1/mountinfo:1: major:minor "2592" has no colon (line: "22 1 2592 / / rw - ext4 /dev/a rw")`,
		},
		{
			name:    "bad major",
			in:      "22 1 x:2 / / rw - ext4 /dev/a rw\n",
			wantErr: `/proc/1/mountinfo:1: major:minor "x:2": major is not an unsigned integer (line: "22 1 x:2 / / rw - ext4 /dev/a rw")`,
		},
		{
			name:    "bad minor",
			in:      "22 1 259: / / rw - ext4 /dev/a rw\n",
			wantErr: `/proc/1/mountinfo:1: major:minor "259:": minor is not an unsigned integer (line: "22 1 259: / / rw - ext4 /dev/a rw")`,
		},
		{
			name:    "relative mount point",
			in:      "22 1 259:2 / data rw - ext4 /dev/a rw\n",
			wantErr: `/proc/1/mountinfo:1: mount point "data" is not an absolute path (line: "22 1 259:2 / data rw - ext4 /dev/a rw")`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseAll("/proc/1/mountinfo", tt.in)
			if tt.wantErr != "" {
				collectortest.WantParseError(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d mounts, want %d", len(got), len(tt.want))
			}
			for i, w := range tt.want {
				m := got[i]
				g := want{string(m.Major), string(m.Minor), string(m.MountPoint), string(m.Options), string(m.FSType), string(m.Source), string(m.SuperOptions)}
				if g != w {
					t.Errorf("mount %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestUnescape(t *testing.T) {
	tests := map[string]string{
		`/mnt/plain`:            "/mnt/plain",
		`/mnt/scratch\040space`: "/mnt/scratch space",
		`/a\011b\012c\134d`:     "/a\tb\nc\\d",
		`/trailing\04`:          `/trailing\04`,
		`/not\999octal`:         `/not\999octal`,
		`/high\777`:             `/high\777`,
	}
	for in, want := range tests {
		if got := unescape([]byte(in)); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHasOption(t *testing.T) {
	tests := []struct {
		list string
		want bool
	}{
		{"ro", true},
		{"rw,relatime", false},
		{"rw,ro", true},
		{"ro,errors=remount-ro", true},
		{"errors=remount-ro", false},
		{"rootcontext=x,rw", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := hasOption([]byte(tt.list), "ro"); got != tt.want {
			t.Errorf("hasOption(%q, ro) = %v, want %v", tt.list, got, tt.want)
		}
	}
}
