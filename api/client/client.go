package client

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

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/mosaictype"
)

// Client calls a Mosaic server's HTTP API.
type Client struct {
	base      *url.URL
	token     string
	http      *http.Client
	maxAnswer int64

	// TraceParent, when set, goes with every request as the W3C traceparent header: tasks
	// published through this client continue that trace.
	TraceParent string
}

// New returns a client for the server at baseURL (http or https) that authenticates with token
// (an API key, an operator key or the admin token). Each call has a timeout of 60 s, except
// StreamEvents, which lasts as long as its context.
func New(baseURL, token string) (*Client, error) { return NewWith(baseURL, token, Options{}) }

// Options tune a client; zero fields take New's defaults.
type Options struct {
	// HTTP carries the requests. Default: an http.Client with a 60 s timeout.
	HTTP *http.Client
	// MaxAnswer bounds the body of an answer that is read, in bytes. Default 16 MiB. A caller that
	// talks to a server it does not trust (federation, to another instance) bounds it lower.
	MaxAnswer int64
}

// NewWith is New with options.
func NewWith(baseURL, token string, o Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http(s)://host:port", baseURL)
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: 60 * time.Second}
	}
	if o.MaxAnswer <= 0 {
		o.MaxAnswer = 16 << 20
	}
	return &Client{base: u, token: token, http: o.HTTP, maxAnswer: o.MaxAnswer}, nil
}

// Do sends a request with a JSON body (nil for none) and decodes a JSON answer into out (nil to
// discard it). A non-2xx answer is returned as a *mosaictype.Error.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.send(ctx, c.http, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, c.maxAnswer))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return answerError(resp.StatusCode, raw)
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decode answer of %s %s: %w", method, path, err)
	}
	return nil
}

// send makes a request with a JSON body (nil for none) through hc.
func (c *Client) send(ctx context.Context, hc *http.Client, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	u := *c.base
	p, q, _ := strings.Cut(path, "?")
	u.Path = strings.TrimSuffix(u.Path, "/") + p
	u.RawQuery = q
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.TraceParent != "" {
		req.Header.Set("traceparent", c.TraceParent)
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("cannot reach the Mosaic server at %s: %w", c.base, err)
	}
	return resp, nil
}

// answerError is the *mosaictype.Error of a non-2xx answer.
func answerError(status int, raw []byte) error {
	var env struct {
		Error *mosaictype.Error `json:"error"`
	}
	if json.Unmarshal(raw, &env) == nil && env.Error != nil {
		env.Error.Status = status
		return env.Error
	}
	return &mosaictype.Error{Status: status, Code: "http_" + fmt.Sprint(status), Message: strings.TrimSpace(string(raw))}
}

// Ready asks /readyz; it returns nil when the server is ready.
func (c *Client) Ready(ctx context.Context) error {
	var out map[string]any
	err := c.Do(ctx, http.MethodGet, "/readyz", nil, &out)
	var e *mosaictype.Error
	if errors.As(err, &e) && e.Status == http.StatusServiceUnavailable {
		return fmt.Errorf("not ready: %s", e.Message)
	}
	return err
}

func wsPath(ws uuid.UUID, rest string) string { return "/v1/workspaces/" + ws.String() + rest }
