package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// slackMaxBlocks is Slack's limit of blocks in one message.
const slackMaxBlocks = 50

// slack posts a readable summary to a Slack-compatible incoming webhook.
type slack struct {
	url    string
	blocks bool
	client *http.Client
}

// slackMessage is the incoming-webhook payload.
type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks,omitempty"`
}

type slackBlock struct {
	Type string     `json:"type"`
	Text *slackText `json:"text,omitempty"`
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

func (s *slack) send(ctx context.Context, m *message) error {
	body, err := json.Marshal(slackPayload(m, s.blocks))
	if err != nil {
		return permanent(fmt.Errorf("encoding Slack payload: %w", err))
	}
	return postJSON(ctx, s.client, s.url, body, true)
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// slackAlertLine is one alert in one or two lines of mrkdwn.
func slackAlertLine(a msgAlert) string {
	var b strings.Builder
	b.WriteString("• *")
	b.WriteString(slackEscape(a.Labels.Get("alertname")))
	b.WriteString("*")
	if s := summary(a.alert); s != "" {
		b.WriteString(": ")
		b.WriteString(slackEscape(s))
	}
	b.WriteString("\n    ")
	if p := pairs(a.Labels); p != "" {
		b.WriteString(slackEscape(p))
		b.WriteString(" · ")
	}
	if a.Status == statusFiring {
		fmt.Fprintf(&b, "value %s · since %s", formatValue(a.Value), formatTime(a.StartsAt))
	} else {
		fmt.Fprintf(&b, "resolved %s (started %s)", formatTime(a.EndsAt), formatTime(a.StartsAt))
	}
	return b.String()
}

// slackPayload renders a notification: the title, then the firing and the
// resolved alerts; with blocks, the same as Block Kit sections.
func slackPayload(m *message, blocks bool) *slackMessage {
	var b strings.Builder
	b.WriteString("*")
	b.WriteString(slackEscape(m.title()))
	b.WriteString("*")
	section := ""
	for _, a := range m.Alerts {
		head := "Firing"
		if a.Status == statusResolved {
			head = "Resolved"
		}
		if head != section {
			section = head
			b.WriteString("\n*")
			b.WriteString(head)
			b.WriteString(":*")
		}
		b.WriteString("\n")
		b.WriteString(slackAlertLine(a))
	}
	out := &slackMessage{Text: b.String()}
	if !blocks {
		return out
	}
	out.Blocks = append(out.Blocks, slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: "*" + slackEscape(m.title()) + "*"}})
	for i, a := range m.Alerts {
		if len(out.Blocks) == slackMaxBlocks-1 && i < len(m.Alerts)-1 {
			out.Blocks = append(out.Blocks, slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn",
				Text: fmt.Sprintf("… and %d more", len(m.Alerts)-i)}})
			break
		}
		out.Blocks = append(out.Blocks, slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: slackAlertLine(a)}})
	}
	return out
}
