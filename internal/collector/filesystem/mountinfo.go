package filesystem

import (
	"bytes"

	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// mountLine is one parsed line of /proc/<pid>/mountinfo (proc(5)):
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// The byte slices point into the line; MountPoint and Source are still
// escaped as the kernel writes them (octal \040 for a space).
type mountLine struct {
	Major, Minor []byte
	MountPoint   []byte
	Options      []byte
	FSType       []byte
	Source       []byte
	SuperOptions []byte
}

// parseMountLine parses the current line of l. fields is reused for the
// split and returned.
func parseMountLine(l *hostfs.Lines, fields [][]byte) (mountLine, [][]byte, error) {
	var m mountLine
	fields = hostfs.Fields(fields, l.Bytes())
	// Six fixed fields, optional fields, "-", then type, source and super
	// options. The source is empty (and so missing from fields) for a few
	// virtual file systems.
	sep := -1
	for i := 6; i < len(fields); i++ {
		if len(fields[i]) == 1 && fields[i][0] == '-' {
			sep = i
			break
		}
	}
	if len(fields) < 6 || sep < 0 {
		return m, fields, l.Errorf(`expected 6 fields, optional fields and a "-" separator, got %d fields and no separator`, len(fields))
	}
	switch len(fields) - sep - 1 {
	case 3:
		m.FSType, m.Source, m.SuperOptions = fields[sep+1], fields[sep+2], fields[sep+3]
	case 2:
		m.FSType, m.SuperOptions = fields[sep+1], fields[sep+2]
	default:
		return m, fields, l.Errorf("expected file system type, source and super options after the separator, got %d fields", len(fields)-sep-1)
	}
	colon := bytes.IndexByte(fields[2], ':')
	if colon < 0 {
		return m, fields, l.Errorf("major:minor %q has no colon", fields[2])
	}
	m.Major, m.Minor = fields[2][:colon], fields[2][colon+1:]
	if _, ok := hostfs.ParseUint(m.Major); !ok {
		return m, fields, l.Errorf("major:minor %q: major is not an unsigned integer", fields[2])
	}
	if _, ok := hostfs.ParseUint(m.Minor); !ok {
		return m, fields, l.Errorf("major:minor %q: minor is not an unsigned integer", fields[2])
	}
	m.MountPoint, m.Options = fields[4], fields[5]
	if len(m.MountPoint) == 0 || m.MountPoint[0] != '/' {
		return m, fields, l.Errorf("mount point %q is not an absolute path", m.MountPoint)
	}
	return m, fields, nil
}

// unescape decodes the octal escapes (\040 space, \011 tab, \012 newline,
// \134 backslash) the kernel writes in mount points.
func unescape(b []byte) string {
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+3 < len(b) && b[i+1] >= '0' && b[i+1] <= '3' && isOctal(b[i+2]) && isOctal(b[i+3]) {
			out = append(out, (b[i+1]-'0')<<6|(b[i+2]-'0')<<3|(b[i+3]-'0'))
			i += 3
			continue
		}
		out = append(out, b[i])
	}
	return string(out)
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// hasOption reports whether the comma-separated option list has opt.
func hasOption(list []byte, opt string) bool {
	for len(list) > 0 {
		i := bytes.IndexByte(list, ',')
		if i < 0 {
			return string(list) == opt
		}
		if string(list[:i]) == opt {
			return true
		}
		list = list[i+1:]
	}
	return false
}
