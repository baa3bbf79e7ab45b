package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/colorprofile"

	"github.com/trainwatch/trainwatch/internal/ui"
)

func TestPrintable(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "python3 -u train.py --lr 3e-4", "python3 -u train.py --lr 3e-4"},
		{"unicode kept", "entraîner données 学习", "entraîner données 学习"},
		{"newlines and tabs", "bash -c large=0\nTEXT='#!/bin/bash\n\n\tx'", "bash -c large=0 TEXT='#!/bin/bash   x'"},
		{"carriage return", "a\r\nb", "a  b"},
		{"title escape", "x\x1b]0;pwned\x07y", "x?]0;pwned?y"},
		{"clear screen", "\x1b[2Jz", "?[2Jz"},
		{"colour", "\x1b[31mred", "?[31mred"},
		{"C1 CSI and DEL", "a\u009b2Jb\x7f", "a?2Jb?"},
		{"NUL", "a\x00b", "a?b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := printable(tt.in); got != tt.want {
				t.Errorf("printable(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSafeLine(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "GPU 0  97%", "GPU 0  97%"},
		{"own styles kept", "\x1b[1;38;5;196mhot\x1b[0m", "\x1b[1;38;5;196mhot\x1b[0m"},
		{"cursor movement dropped", "\x1b[1;38;5;196mhot\x1b[0m\x1b[H\x1b[2J", "\x1b[1;38;5;196mhot\x1b[0m?[H?[2J"},
		{"OSC dropped", "a\x1b]52;c;ZXZpbA==\x07b", "a?]52;c;ZXZpbA==?b"},
		{"newline inside a styled cell", "\x1b[2mbash -c x\ny\x1b[0m", "\x1b[2mbash -c x y\x1b[0m"},
		{"lone escape at the end", "abc\x1b", "abc?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := safeLine(tt.in); got != tt.want {
				t.Errorf("safeLine(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestHostileProcessText: a process whose command line holds a whole
// shell script (newlines), a terminal-title escape and a clear-screen
// sequence, and a run whose name holds a newline, leave every panel's
// frame exactly the terminal's size, the header on the first line, and
// no control character on the screen. (CI's own runner has such a
// process; before the fix its newlines pushed the header off the pane.)
func TestHostileProcessText(t *testing.T) {
	src := newFake(t)
	hostile := "bash -c large_limit=0\nLARGE_TEXT='#!/bin/bash\n\n\n\nexec python3 -u x.py'\x1b]0;pwned\x07\x1b[2J\x1b[31m"
	list := *src.procs
	list.Processes = append([]ui.ProcessRow(nil), list.Processes...)
	list.Jobs = append([]ui.JobRow(nil), list.Jobs...)
	for i := range list.Processes {
		list.Processes[i].Cmdline = hostile
		list.Processes[i].Command = "ba\nsh"
		list.Processes[i].User = "ro\x1b[8mot"
	}
	for i := range list.Jobs {
		list.Jobs[i].Name = "job\nname"
	}
	for _, sz := range [][2]int{{80, 24}, {200, 60}} {
		w, h := sz[0], sz[1]
		m := feed(t, src, colorprofile.ANSI256, w, h)
		l := list
		m.Update(procsMsg{list: &l, gen: m.procGen})
		for p := range numPanels {
			m.setPanel(p)
			if p == panelProcesses {
				l := list
				m.Update(procsMsg{list: &l, gen: m.procGen})
				m.pv.tree = false
			}
			m.dirty = true
			frame := m.screen()
			checkFrame(t, frame, w, h)
			if first, _, _ := strings.Cut(sgr.ReplaceAllString(frame, ""), "\n"); !strings.Contains(first, "trainwatch top") {
				t.Errorf("panel %d at %dx%d: the header is not on the first line: %q", p, w, h, first)
			}
			want := "bash -c large_limit=0 LARGE_TEXT="
			if w < 120 {
				want = "bash -c large_limi"
			}
			if p == panelProcesses && (!strings.Contains(frame, want) || !strings.Contains(frame, "ro?[8mot")) {
				t.Errorf("the command line and user are not shown with their control characters made printable:\n%s", frame)
			}
		}
	}
}
