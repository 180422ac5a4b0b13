package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/mosaictype"
)

// CreateSchedule creates a schedule (member).
func (c *Client) CreateSchedule(ctx context.Context, ws uuid.UUID, req mosaictype.CreateScheduleRequest) (mosaictype.Schedule, error) {
	var out mosaictype.Schedule
	return out, c.Do(ctx, http.MethodPost, wsPath(ws, "/schedules"), req, &out)
}

// ListSchedules lists a workspace's schedules by name.
func (c *Client) ListSchedules(ctx context.Context, ws uuid.UUID) ([]mosaictype.Schedule, error) {
	var out mosaictype.ScheduleList
	return out.Schedules, c.Do(ctx, http.MethodGet, wsPath(ws, "/schedules"), nil, &out)
}

// GetSchedule reads a schedule (by name or id) with its last runs.
func (c *Client) GetSchedule(ctx context.Context, ws uuid.UUID, ref string) (mosaictype.Schedule, error) {
	var out mosaictype.Schedule
	return out, c.Do(ctx, http.MethodGet, wsPath(ws, "/schedules/"+url.PathEscape(ref)), nil, &out)
}

// SetSchedulePaused pauses or resumes a schedule (member).
func (c *Client) SetSchedulePaused(ctx context.Context, ws uuid.UUID, ref string, paused bool) (mosaictype.Schedule, error) {
	op := "/resume"
	if paused {
		op = "/pause"
	}
	var out mosaictype.Schedule
	return out, c.Do(ctx, http.MethodPost, wsPath(ws, "/schedules/"+url.PathEscape(ref)+op), nil, &out)
}

// DeleteSchedule deletes a schedule and its runs' record; its tasks stay (member).
func (c *Client) DeleteSchedule(ctx context.Context, ws uuid.UUID, ref string) error {
	return c.Do(ctx, http.MethodDelete, wsPath(ws, "/schedules/"+url.PathEscape(ref)), nil, nil)
}
