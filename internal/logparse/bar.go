package logparse

import (
	"strings"

	"github.com/trainwatch/trainwatch/internal/runs"
)

// skipDescs are bar descriptions that are not training progress: Lightning's
// validation, test and predict loops, and downloads.
var skipDescs = [...]string{"validation", "sanity checking", "testing", "predicting", "download", "upload", "map", "filter", "tokeniz", "loading"}

// barLine parses a tqdm progress bar (also Lightning's):
//
//	Epoch 3:  45%|████▌     | 450/1000 [01:23<01:42,  5.37it/s, loss=0.123, lr=1e-4]
//	450it [01:23,  5.37it/s]
//
// The count becomes the step (and total_steps), the rate steps_per_second,
// "Epoch N" the epoch and the numeric postfix pairs values. Bars counting
// bytes or other units (k/M/G suffixes, B/s, MB/s, examples/s) are skipped.
func (p *Parser) barLine(s string) (runs.Entry, bool) {
	start := 0
	if pct := strings.Index(s, "%|"); pct >= 0 {
		end := strings.IndexByte(s[pct+2:], '|')
		if end < 0 {
			return runs.Entry{}, false
		}
		start = pct + 2 + end + 1
	}
	lb := strings.Index(s[start:], " [")
	if lb < 0 {
		return runs.Entry{}, false
	}
	lb += start
	inner := s[lb+2 : len(s)-1]
	head := strings.TrimRight(s[:lb], " ")
	sp := strings.LastIndexAny(head, " |")
	count := head[sp+1:]
	descEnd := sp + 1
	if start > 0 {
		descEnd = strings.Index(s, "%|")
	}

	// The count: "450/1000", "450/?" or "450it".
	var n, total int64 = 0, -1
	var ok bool
	if slash := strings.IndexByte(count, '/'); slash >= 0 {
		if n, ok = parseUint(count[:slash]); !ok {
			return runs.Entry{}, false
		}
		if t := count[slash+1:]; t != "?" {
			if total, ok = parseUint(t); !ok {
				return runs.Entry{}, false
			}
		}
	} else if c, found := strings.CutSuffix(count, "it"); found {
		if n, ok = parseUint(c); !ok {
			return runs.Entry{}, false
		}
	} else {
		return runs.Entry{}, false
	}

	// Bracket: elapsed[<remaining], rate[, postfix...].
	parts := inner
	_, parts, _ = strings.Cut(parts, ",") // elapsed
	rate, post, _ := strings.Cut(parts, ",")
	rate = strings.TrimSpace(rate)
	var rateVal float64
	hasRate := false
	switch {
	case strings.HasSuffix(rate, "it/s"):
		if v, ok := parseNumber(rate[:len(rate)-4]); ok {
			rateVal, hasRate = v, true
		} else if rate != "?it/s" {
			return runs.Entry{}, false
		}
	case strings.HasSuffix(rate, "s/it"):
		if v, ok := parseNumber(rate[:len(rate)-4]); ok && v > 0 {
			rateVal, hasRate = 1/v, true
		} else if rate != "?s/it" {
			return runs.Entry{}, false
		}
	default:
		return runs.Entry{}, false
	}

	lightning := strings.Contains(post, "v_num=")
	if lightning && !p.lightning || !lightning && !p.tqdm {
		return runs.Entry{}, false
	}

	// Description: "Epoch 3:" and bars that are not training.
	desc := strings.TrimSpace(s[:descEnd])
	desc = strings.TrimRight(desc, "0123456789. ")
	desc = strings.TrimSuffix(desc, ":")
	lower := strings.ToLower(desc)
	for _, d := range skipDescs {
		if strings.Contains(lower, d) {
			return runs.Entry{}, false
		}
	}

	b := newBuilder()
	b.add("step", float64(n))
	if total >= 0 {
		b.add("total_steps", float64(total))
	}
	if hasRate {
		b.add("steps_per_second", rateVal)
	}
	if i := strings.Index(lower, "epoch"); i >= 0 {
		rest := strings.TrimLeft(desc[i+5:], " [")
		j := 0
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		if e, ok := parseUint(rest[:j]); ok {
			b.add("epoch", float64(e))
		}
	}
	for post != "" {
		var kv string
		kv, post, _ = strings.Cut(post, ",")
		k, v, found := strings.Cut(strings.TrimSpace(kv), "=")
		if !found || k == "v_num" || !isKey(k) {
			continue
		}
		if f, ok := parseNumber(v); ok {
			b.add(k, f)
		}
	}
	return b.entry()
}
