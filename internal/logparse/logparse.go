// Package logparse turns lines of a training command's output into training
// metrics ([runs.Entry] values), with no change to the training script.
//
// It understands, in this order: user-supplied regular expressions, JSON
// lines, Hugging Face Trainer dict lines (Python repr), tqdm progress bars
// (including PyTorch Lightning's), and key=value / "key: value" lines. Each
// format is recognised by a cheap byte test first, so ordinary log lines
// cost little.
package logparse

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/trainwatch/trainwatch/internal/runs"
)

// Format names accepted in [Options.Disable].
const (
	FormatJSON      = "json"      // {"step": 10, "loss": 0.42}
	FormatHF        = "hf"        // {'loss': 0.4321, 'epoch': 0.5}
	FormatTqdm      = "tqdm"      // 45%|████▌     | 450/1000 [01:23<01:42,  5.37it/s, loss=0.123]
	FormatLightning = "lightning" // tqdm bars whose postfix has v_num=…
	FormatKeyValue  = "keyvalue"  // step=100 loss=0.23, or step: 100, loss: 0.23
)

// Options configures a [Parser].
type Options struct {
	// Regexes are user-supplied regular expressions, tried before the
	// built-in formats. Named groups become keys; "step" and "epoch" fill
	// the entry's Step and Epoch. Every regex needs at least one named group.
	Regexes []string
	// Disable lists built-in formats to skip (see the Format constants).
	Disable []string
}

// userRegex is one compiled user regex and its group names.
type userRegex struct {
	re    *regexp.Regexp
	names []string
}

// Parser recognises metric lines. It holds no mutable state after New, so
// one Parser may be used from several goroutines.
type Parser struct {
	regexes   []userRegex
	json      bool
	hf        bool
	tqdm      bool
	lightning bool
	keyValue  bool
}

// New compiles the options into a Parser. An invalid regex, a regex without
// named groups or an unknown format name is an error that names it.
func New(opts Options) (*Parser, error) {
	p := &Parser{json: true, hf: true, tqdm: true, lightning: true, keyValue: true}
	for _, d := range opts.Disable {
		switch strings.ToLower(strings.TrimSpace(d)) {
		case FormatJSON:
			p.json = false
		case FormatHF:
			p.hf = false
		case FormatTqdm:
			p.tqdm = false
		case FormatLightning:
			p.lightning = false
		case FormatKeyValue:
			p.keyValue = false
		default:
			return nil, fmt.Errorf("logparse: unknown format %q in Disable (known: %s, %s, %s, %s, %s)",
				d, FormatJSON, FormatHF, FormatTqdm, FormatLightning, FormatKeyValue)
		}
	}
	for i, src := range opts.Regexes {
		re, err := regexp.Compile(src)
		if err != nil {
			return nil, fmt.Errorf("logparse: regex %d %q: %w", i+1, src, err)
		}
		named := 0
		for _, n := range re.SubexpNames() {
			if n != "" {
				named++
			}
		}
		if named == 0 {
			return nil, fmt.Errorf("logparse: regex %d %q has no named groups; name the values, e.g. (?P<loss>[0-9.e+-]+)", i+1, src)
		}
		p.regexes = append(p.regexes, userRegex{re: re, names: re.SubexpNames()})
	}
	return p, nil
}

// Line parses one line of output. A terminal line may hold several
// carriage-return-separated progress updates; the last one that parses wins.
// ok is false when the line carries no metrics. TimeMs is now (0 when now is
// zero) unless the line has its own time.
func (p *Parser) Line(line string, now time.Time) (runs.Entry, bool) {
	if strings.IndexByte(line, '\x1b') >= 0 {
		line = stripANSI(line)
	}
	line = strings.TrimRight(line, "\r\n")
	for {
		seg := line
		i := strings.LastIndexByte(line, '\r')
		if i >= 0 {
			seg, line = line[i+1:], line[:i]
		}
		if e, ok := p.segment(strings.TrimSpace(seg)); ok {
			if e.TimeMs == 0 && !now.IsZero() {
				e.TimeMs = now.UnixMilli()
			}
			return e, true
		}
		if i < 0 {
			return runs.Entry{Step: -1, Epoch: math.NaN()}, false
		}
	}
}

// segment parses one update (no '\r').
func (p *Parser) segment(s string) (runs.Entry, bool) {
	if s == "" {
		return runs.Entry{}, false
	}
	if len(p.regexes) > 0 {
		if e, ok := p.userLine(s); ok {
			return e, true
		}
	}
	if s[0] == '{' {
		if len(s) > 1 && s[len(s)-1] == '}' {
			return p.dictLine(s)
		}
		return runs.Entry{}, false
	}
	if (p.tqdm || p.lightning) && s[len(s)-1] == ']' {
		if e, ok := p.barLine(s); ok {
			return e, true
		}
	}
	if p.keyValue {
		return kvLine(s)
	}
	return runs.Entry{}, false
}

// userLine tries the user regexes in order.
func (p *Parser) userLine(s string) (runs.Entry, bool) {
	for _, u := range p.regexes {
		m := u.re.FindStringSubmatch(s)
		if m == nil {
			continue
		}
		b := newBuilder()
		for i, name := range u.names {
			if name == "" || i >= len(m) {
				continue
			}
			if f, ok := parseNumber(strings.TrimSpace(m[i])); ok {
				b.add(name, f)
			}
		}
		if e, ok := b.entry(); ok {
			return e, true
		}
	}
	return runs.Entry{}, false
}

// stripANSI removes CSI escape sequences (colours, cursor moves).
func stripANSI(s string) string {
	var sb strings.Builder
	sb.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\x1b' {
			sb.WriteByte(c)
			continue
		}
		if i+1 < len(s) && s[i+1] == '[' {
			i += 2
			for i < len(s) && (s[i] < 0x40 || s[i] > 0x7e) {
				i++
			}
		}
	}
	return sb.String()
}
