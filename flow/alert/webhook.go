package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Webhook posts each notice as JSON (the Notice type) to URL. A 2xx answer
// is success; anything else is an error naming the status.
type Webhook struct {
	URL *url.URL // required
	// Secret, if set, is sent as "Authorization: Bearer <Secret>" so the
	// receiver can tell Meldeweg's calls from others (FIT-Connect secures
	// its callbacks the same way).
	Secret string
	// Client defaults to one with a 10-second timeout.
	Client *http.Client
}

func (w *Webhook) String() string { return "webhook " + w.URL.Redacted() }

// Notify posts n.
func (w *Webhook) Notify(ctx context.Context, n Notice) error {
	body, err := json.Marshal(n)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL.String(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if w.Secret != "" {
		req.Header.Set("Authorization", "Bearer "+w.Secret)
	}
	c := w.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}
