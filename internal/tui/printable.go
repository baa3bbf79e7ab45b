package tui

import (
	"strings"

	"github.com/trainwatch/trainwatch/internal/ui"
)

// printable returns s with every control character made harmless for a
// terminal: tab, newline and carriage return become a space, any other C0
// or C1 control (ESC among them) and DEL become "?", as ps and htop show
// them. A process's command line may hold a whole script with newlines,
// or escape sequences that would move the cursor or retitle the user's
// terminal; neither may reach the screen.
func printable(s string) string {
	if !hasControl(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			b.WriteByte(' ')
		case isControl(r):
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// hasControl reports whether s holds a control character (C0, DEL or C1).
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			return true
		}
		if c == 0xc2 && i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] <= 0x9f { // U+0080–U+009F in UTF-8
			return true
		}
	}
	return false
}

// isControl reports whether r is a C0 or C1 control or DEL.
func isControl(r rune) bool {
	return r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f
}

// safeLine is the last guard before a line reaches the terminal: the
// select-graphic-rendition sequences the UI's own styles write (ESC [ … m)
// are kept, and every other control character or escape sequence is made
// printable. Strings from outside (process names, run names, alert
// labels) are cleaned where they arrive; this catches any that are not.
func safeLine(s string) string {
	if !hasControl(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		if s[i] == 0x1b {
			if j, ok := skipCSI(s, i); ok && s[j-1] == 'm' {
				b.WriteString(s[i:j])
				i = j
				continue
			}
		}
		j := i + 1
		for j < len(s) && s[j] != 0x1b {
			j++
		}
		b.WriteString(printable(s[i:j]))
		i = j
	}
	return b.String()
}

// cleanProcesses makes every text field of a process list printable, once
// when it arrives, so that widths, filters and the screen agree.
func cleanProcesses(l *ui.ProcessList) {
	if l == nil {
		return
	}
	for i := range l.Processes {
		p := &l.Processes[i]
		for _, f := range []*string{&p.Command, &p.Cmdline, &p.User, &p.State, &p.Container, &p.Job, &p.JobName} {
			*f = printable(*f)
		}
	}
	for i := range l.Jobs {
		j := &l.Jobs[i]
		for _, f := range []*string{&j.ID, &j.Name, &j.Launcher, &j.User} {
			*f = printable(*f)
		}
	}
}
