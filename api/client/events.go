package client

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Event is one server-sent event of an event stream.
type Event struct {
	Type string
	Data string
}

// StreamEvents reads a workspace's event stream (with the peers' when federated) and calls fn for
// each event, with comment lines as events of type ":" (how each peer answered), until ctx ends,
// the server ends the stream, or fn returns an error.
func (c *Client) StreamEvents(ctx context.Context, ws string, federated bool, fn func(Event) error) error {
	path := "/v1/workspaces/" + url.PathEscape(ws) + "/events/stream"
	if federated {
		path += "?federated=true"
	}
	resp, err := c.send(ctx, &http.Client{Transport: c.http.Transport}, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return answerError(resp.StatusCode, raw)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 2<<20)
	var ev Event
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.Type != "" {
				if err := fn(ev); err != nil {
					return err
				}
			}
			ev = Event{}
		case strings.HasPrefix(line, ": "):
			if err := fn(Event{Type: ":", Data: line[2:]}); err != nil {
				return err
			}
		case strings.HasPrefix(line, "event: "):
			ev.Type = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			if ev.Data != "" {
				ev.Data += "\n"
			}
			ev.Data += line[len("data: "):]
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return sc.Err()
}
