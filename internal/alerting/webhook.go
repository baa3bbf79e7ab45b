package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// httpTimeout bounds one webhook or Slack request.
const httpTimeout = 30 * time.Second

// webhookMessage is Alertmanager's webhook payload, version 4.
type webhookMessage struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []webhookAlert    `json:"alerts"`
}

// webhookAlert is one alert of a webhook payload. A firing alert's endsAt
// is the zero time, as Alertmanager sends it.
type webhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// toWebhook converts a notification into the webhook payload.
func toWebhook(m *message) *webhookMessage {
	w := &webhookMessage{
		Version:           "4",
		GroupKey:          m.GroupKey,
		Status:            m.Status,
		Receiver:          m.Receiver,
		GroupLabels:       labelMap(m.GroupLabels),
		CommonLabels:      labelMap(m.CommonLabels),
		CommonAnnotations: labelMap(m.CommonAnnotations),
		ExternalURL:       m.ExternalURL,
		Alerts:            make([]webhookAlert, 0, len(m.Alerts)),
	}
	for _, a := range m.Alerts {
		wa := webhookAlert{
			Status:       a.Status,
			Labels:       labelMap(a.Labels),
			Annotations:  labelMap(a.Annotations),
			StartsAt:     a.StartsAt,
			GeneratorURL: a.GeneratorURL,
			Fingerprint:  a.fp.String(),
		}
		if a.Status == statusResolved {
			wa.EndsAt = a.EndsAt
		}
		w.Alerts = append(w.Alerts, wa)
	}
	return w
}

// labelMap returns labels as a map, never nil (JSON {} rather than null).
func labelMap(ls labels.Labels) map[string]string {
	m := make(map[string]string, ls.Len())
	ls.Range(func(l labels.Label) { m[l.Name] = l.Value })
	return m
}

// webhook POSTs the Alertmanager webhook JSON.
type webhook struct {
	url    string
	client *http.Client
}

func (w *webhook) send(ctx context.Context, m *message) error {
	body, err := json.Marshal(toWebhook(m))
	if err != nil {
		return permanent(fmt.Errorf("encoding webhook payload: %w", err))
	}
	return postJSON(ctx, w.client, w.url, body, false)
}

// postJSON POSTs body and accepts any 2xx answer. A 4xx answer (but 429) is
// permanent. With secret set, the URL never appears in an error.
func postJSON(ctx context.Context, client *http.Client, u string, body []byte, secret bool) error {
	ctx, cancel := context.WithTimeout(ctx, httpTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		if secret {
			return permanent(errors.New("building request: bad URL"))
		}
		return permanent(fmt.Errorf("building request: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "trainwatch-alerting")
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if secret && errors.As(err, &ue) {
			return fmt.Errorf("POST to the webhook URL (redacted): %w", ue.Err)
		}
		return err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	err = fmt.Errorf("receiver answered %s: %s", resp.Status, strings.TrimSpace(string(snippet)))
	if resp.StatusCode/100 == 4 && resp.StatusCode != http.StatusTooManyRequests {
		return permanent(err)
	}
	return err
}
