package tui

import (
	"io"
	"os"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"
)

// ColorProfile is the colour profile for output to w: none
// (colorprofile.ASCII) when noColor is set, when NO_COLOR is set to
// anything in the environment (https://no-color.org), or when w is not a
// terminal (colorprofile.NoTTY); otherwise what the terminal supports
// (CLICOLOR_FORCE forces colour on a non-terminal). Nothing is asked of
// the terminal: the answer comes from the environment and terminfo.
func ColorProfile(w io.Writer, noColor bool) colorprofile.Profile {
	if noColor || os.Getenv("NO_COLOR") != "" {
		return colorprofile.ASCII
	}
	return colorprofile.Detect(w, os.Environ())
}

// colorless reports whether a profile has no colour: the UI then writes
// no escape sequence at all.
func colorless(p colorprofile.Profile) bool { return p <= colorprofile.ASCII }

// paint is one style as the escape sequences around a text: lipgloss
// renders the style once, and painting is then two string concatenations.
type paint struct{ pre, post string }

// newPaint renders s around a marker to learn its sequences.
func newPaint(s lipgloss.Style) paint {
	const marker = "\x01"
	out := s.Render(marker)
	i := strings.Index(out, marker)
	if i < 0 {
		return paint{}
	}
	return paint{pre: out[:i], post: out[i+len(marker):]}
}

// on paints text.
func (p paint) on(text string) string {
	if p.pre == "" || text == "" {
		return text
	}
	return p.pre + text + p.post
}

// styles are the UI's styles, built once for a colour profile. With no
// colour (colorless) every style is empty: the output has no escape
// sequences at all, not even bold, and what colour would say (selection,
// severity) is said with characters too (">" marks, brackets, words).
type styles struct {
	color bool

	title, dim, bold, key         paint
	ok, warn, crit, info, accent  paint
	selected, tabActive, tabOther paint
	header, errorLine             paint
}

func newStyles(profile colorprofile.Profile) styles {
	if colorless(profile) {
		return styles{}
	}
	// Only the sixteen basic colours are used, so the sequences are the
	// same for every colour profile.
	s := lipgloss.NewStyle
	fg := func(c string) lipgloss.Style { return s().Foreground(lipgloss.Color(c)) }
	return styles{
		color:     true,
		title:     newPaint(s().Bold(true)),
		dim:       newPaint(fg("8")),
		bold:      newPaint(s().Bold(true)),
		key:       newPaint(fg("6").Bold(true)),
		ok:        newPaint(fg("2")),
		warn:      newPaint(fg("3")),
		crit:      newPaint(fg("1").Bold(true)),
		info:      newPaint(fg("4")),
		accent:    newPaint(fg("5")),
		selected:  newPaint(s().Reverse(true)),
		tabActive: newPaint(s().Reverse(true).Bold(true)),
		tabOther:  newPaint(fg("8")),
		header:    newPaint(s().Bold(true)),
		errorLine: newPaint(fg("1")),
	}
}

// level paints text by how close v is to a limit: green below warnAt,
// yellow below critAt, red from critAt.
func (s *styles) level(text string, v, warnAt, critAt float64) string {
	switch {
	case v >= critAt:
		return s.crit.on(text)
	case v >= warnAt:
		return s.warn.on(text)
	default:
		return s.ok.on(text)
	}
}

// pct paints a utilisation bar or percentage (warning from 85 %, critical
// from 95 %).
func (s *styles) pct(text string, v float64) string { return s.level(text, v, 85, 95) }

// temp paints a temperature (warning from 80 °C, critical from 90 °C: the
// brief's GPU alert and checklist limits).
func (s *styles) temp(text string, c float64) string { return s.level(text, c, 80, 90) }
