package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/periodic"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

// CreateScheduleRequest (mosaictype.CreateScheduleRequest) is the body of POST
// /v1/workspaces/{ws}/schedules: a periodic task.
type CreateScheduleRequest = mosaictype.CreateScheduleRequest

// Schedule (mosaictype.Schedule) is a schedule as the API shows it.
type Schedule = mosaictype.Schedule

// ScheduleList (mosaictype.ScheduleList) is the answer of GET /v1/workspaces/{ws}/schedules.
type ScheduleList = mosaictype.ScheduleList

var scheduleName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

func (s *Server) mountSchedules(r *Router) {
	r.Handle("POST /v1/workspaces/{ws}/schedules", store.RoleMember, s.createSchedule)
	r.Handle("GET /v1/workspaces/{ws}/schedules", store.RoleGuest, s.listSchedules)
	r.Handle("GET /v1/workspaces/{ws}/schedules/{schedule}", store.RoleGuest, s.getSchedule)
	r.Handle("POST /v1/workspaces/{ws}/schedules/{schedule}/pause", store.RoleMember, s.pauseSchedule)
	r.Handle("POST /v1/workspaces/{ws}/schedules/{schedule}/resume", store.RoleMember, s.resumeSchedule)
	r.Handle("DELETE /v1/workspaces/{ws}/schedules/{schedule}", store.RoleMember, s.deleteSchedule)
}

func (s *Server) createSchedule(w http.ResponseWriter, r *Request) *Error {
	var req CreateScheduleRequest
	if e := r.Decode(&req); e != nil {
		return e
	}
	if !scheduleName.MatchString(req.Name) {
		return errorf(CodeInvalidArgument, "name %q: lower-case letters, digits, '.', '_' and '-', up to 64, starting with a letter or digit", req.Name)
	}
	if _, err := uuid.Parse(req.Name); err == nil {
		// A schedule is named by its name or its id: a name that reads as an id would name two.
		return errorf(CodeInvalidArgument, "name %q reads as a schedule id; give a name", req.Name)
	}
	if events.StreamFor(req.Kind) != events.TasksStream {
		return errorf(CodeInvalidArgument, "kind %q: a schedule publishes tasks; credential and knowledge jobs have their own schedules", req.Kind)
	}
	every, err := parseDuration("every", req.Every)
	if err != nil {
		return errorf(CodeInvalidArgument, "%v", err)
	}
	tm, err := periodic.ParseTiming(req.Cron, req.TimeZone, every)
	if err != nil {
		return errorf(CodeInvalidArgument, "%v", err)
	}
	sch := store.Schedule{WorkspaceID: r.Workspace, Name: req.Name, Kind: req.Kind, Args: req.Args, Priority: req.Priority,
		Credentials: req.Credentials, Cron: req.Cron, TimeZone: req.TimeZone, Every: every, Overlap: req.Overlap,
		Missed: req.Missed, PublishedBy: r.Caller.Principal.UserID, CreatedBy: r.Caller.Name()}
	if len(sch.Args) == 0 {
		sch.Args = json.RawMessage(`{}`)
	}
	if sch.Priority == 0 {
		sch.Priority = 5
	}
	if sch.Overlap == "" {
		sch.Overlap = store.OverlapAllow
	}
	if sch.Missed == "" {
		sch.Missed = store.MissedRunOnce
	}
	if sch.Overlap != store.OverlapAllow && sch.Overlap != store.OverlapSkip {
		return errorf(CodeInvalidArgument, "overlap %q: allow or skip", sch.Overlap)
	}
	if sch.Missed != store.MissedRunOnce && sch.Missed != store.MissedSkip {
		return errorf(CodeInvalidArgument, "missed %q: run_once or skip", sch.Missed)
	}
	// The runs' task, checked now as a publish would check it.
	err = s.cfg.Tasks.Check(agents.TaskSpec{WorkspaceID: r.Workspace, Kind: sch.Kind, Priority: sch.Priority, Args: sch.Args,
		Credentials: sch.Credentials})
	if err != nil {
		return errorOf(err)
	}
	now := time.Now()
	sch.NextRunAt = tm.Next(now.Truncate(time.Second), now)
	if req.Paused {
		sch.PausedAt = &now
	}
	out, err := s.cfg.DB.CreateSchedule(r.Context(), sch)
	switch {
	case errors.Is(err, store.ErrConflict):
		return errorf(CodeConflict, "schedule %q exists in this workspace", req.Name)
	case err != nil:
		return errorOf(err)
	}
	s.log.Info().Str("workspace_id", r.Workspace.String()).Str("schedule", out.Name).Str("by", r.Caller.Name()).Msg("schedule created")
	writeJSON(w, http.StatusCreated, scheduleView(out, nil))
	return nil
}

// scheduleView is a schedule as the API shows it: its row's public fields, the interval's text
// and the next due times.
func scheduleView(sch store.Schedule, runs []store.ScheduleRun) Schedule {
	v := Schedule{WorkspaceID: sch.WorkspaceID, ID: sch.ID, Name: sch.Name, Kind: sch.Kind, Args: sch.Args,
		Priority: sch.Priority, Credentials: sch.Credentials, Cron: sch.Cron, TimeZone: sch.TimeZone,
		Overlap: sch.Overlap, Missed: sch.Missed, PausedAt: sch.PausedAt, NextRunAt: sch.NextRunAt,
		LastRunAt: sch.LastRunAt, LastTaskID: sch.LastTaskID, LastTaskStatus: sch.LastTaskStatus, Runs: sch.Runs,
		Skipped: sch.Skipped, CreatedBy: sch.CreatedBy, CreatedAt: sch.CreatedAt, UpdatedAt: sch.UpdatedAt,
		LastRuns: runs, NextRuns: []time.Time{}}
	if sch.Every > 0 {
		v.Every = sch.Every.String()
	}
	if tm, err := periodic.TimingOf(sch); err == nil && sch.PausedAt == nil {
		v.NextRuns = append(v.NextRuns, sch.NextRunAt)
		v.NextRuns = append(v.NextRuns, tm.NextRuns(sch.NextRunAt, sch.NextRunAt, 4)...)
	}
	return v
}

func (s *Server) listSchedules(w http.ResponseWriter, r *Request) *Error {
	list, err := s.cfg.DB.ListSchedules(r.Context(), r.Workspace)
	if err != nil {
		return errorOf(err)
	}
	out := ScheduleList{Schedules: []Schedule{}}
	for _, sch := range list {
		out.Schedules = append(out.Schedules, scheduleView(sch, nil))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getSchedule(w http.ResponseWriter, r *Request) *Error {
	sch, e := s.schedule(r)
	if e != nil {
		return e
	}
	runs, err := s.cfg.DB.ScheduleRuns(r.Context(), r.Workspace, sch.ID, 20)
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, scheduleView(sch, runs))
	return nil
}

func (s *Server) schedule(r *Request) (store.Schedule, *Error) {
	sch, err := s.cfg.DB.GetSchedule(r.Context(), r.Workspace, r.PathValue("schedule"))
	if err != nil {
		return sch, errorOf(err)
	}
	return sch, nil
}

func (s *Server) pauseSchedule(w http.ResponseWriter, r *Request) *Error {
	return s.setPaused(w, r, true)
}

func (s *Server) resumeSchedule(w http.ResponseWriter, r *Request) *Error {
	return s.setPaused(w, r, false)
}

func (s *Server) setPaused(w http.ResponseWriter, r *Request, paused bool) *Error {
	ref := r.PathValue("schedule")
	sch, err := s.cfg.DB.SetSchedulePaused(r.Context(), r.Workspace, ref, paused, func(cur store.Schedule) (time.Time, error) {
		tm, err := periodic.TimingOf(cur)
		if err != nil {
			return time.Time{}, err
		}
		return tm.Next(cur.NextRunAt, time.Now()), nil
	})
	if err != nil {
		return errorOf(err)
	}
	s.log.Info().Str("workspace_id", r.Workspace.String()).Str("schedule", sch.Name).Bool("paused", paused).Str("by", r.Caller.Name()).Msg("schedule paused or resumed")
	writeJSON(w, http.StatusOK, scheduleView(sch, nil))
	return nil
}

func (s *Server) deleteSchedule(w http.ResponseWriter, r *Request) *Error {
	ref := r.PathValue("schedule")
	if err := s.cfg.DB.DeleteSchedule(r.Context(), r.Workspace, ref); err != nil {
		return errorOf(err)
	}
	s.log.Info().Str("workspace_id", r.Workspace.String()).Str("schedule", ref).Str("by", r.Caller.Name()).Msg("schedule deleted")
	w.WriteHeader(http.StatusNoContent)
	return nil
}
