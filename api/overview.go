package api

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

// Overview (mosaictype.Overview) answers GET /v1/overview (admin token): tasks by status over every
// workspace, and the busiest workspaces.
type Overview = mosaictype.Overview

// WorkspaceLoad (mosaictype.WorkspaceLoad) is what one workspace is doing.
type WorkspaceLoad = mosaictype.WorkspaceLoad

// BusiestWorkspaces is how many workspaces GET /v1/overview lists.
const BusiestWorkspaces = 10

func (s *Server) overview(w http.ResponseWriter, r *Request) *Error {
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	list, err := s.cfg.DB.ListWorkspaces(ctx)
	if err != nil {
		return errorf(CodeUnavailable, "database: %v", err)
	}
	names := make(map[uuid.UUID]string, len(list))
	ids := make([]uuid.UUID, 0, len(list))
	for _, ws := range list {
		names[ws.ID] = ws.Name
		ids = append(ids, ws.ID)
	}
	out := Overview{At: time.Now().UTC(), Workspaces: len(list), Totals: map[store.Status]int{}, Busiest: []WorkspaceLoad{}}
	for _, st := range store.TaskStatuses() {
		out.Totals[st] = 0
	}
	// One statement counts every workspace: totals and loads of one moment.
	counts, err := s.cfg.DB.CountTasksOfWorkspaces(ctx, ids)
	if err != nil {
		return errorf(CodeUnavailable, "database: %v", err)
	}
	var loads []WorkspaceLoad
	for _, ws := range ids {
		c := counts[ws]
		for st, n := range c.ByStatus {
			out.Totals[st] += n
		}
		out.DeadLastHour += c.DeadLastHour
		l := WorkspaceLoad{ID: ws, Name: names[ws], Running: c.ByStatus[store.StatusRunning], Queued: c.ByStatus[store.StatusQueued],
			Retrying: c.ByStatus[store.StatusRetrying], DeadLastHour: c.DeadLastHour}
		if l.Running+l.Queued+l.Retrying+l.DeadLastHour > 0 {
			loads = append(loads, l)
		}
	}
	slices.SortFunc(loads, func(a, b WorkspaceLoad) int {
		return cmp.Or(cmp.Compare(b.Running+b.Queued, a.Running+a.Queued), cmp.Compare(b.Retrying, a.Retrying),
			cmp.Compare(b.DeadLastHour, a.DeadLastHour), cmp.Compare(a.Name, b.Name))
	})
	out.Busiest = append(out.Busiest, loads[:min(len(loads), BusiestWorkspaces)]...)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// walkParallelism bounds how many workspaces an operator's view reads at once: enough to overlap
// round trips, few enough to leave the pool's connections to the workers.
const walkParallelism = 4

// forEachWorkspace calls fn for every workspace, walkParallelism at a time; the first error
// stops the walk and is returned.
func forEachWorkspace(ctx context.Context, ids []uuid.UUID, fn func(ctx context.Context, ws uuid.UUID) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan uuid.UUID)
	var wg sync.WaitGroup
	for range min(walkParallelism, len(ids)) {
		wg.Go(func() {
			for ws := range next {
				if err := fn(ctx, ws); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for _, ws := range ids {
		select {
		case next <- ws:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return nil
}
