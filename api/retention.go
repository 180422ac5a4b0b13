package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/mosaicstack/mosaic/store"
)

// RetentionSettings say how long each class of finished work is kept: a Go duration ("24h",
// "90m"), "0s" to keep it for good. In a workspace's own settings an absent class takes the
// process's default (docs/operations.md, "Retention").
type RetentionSettings struct {
	// Succeeded tasks, from when they finished, with their audit trail.
	Succeeded string `json:"succeeded,omitempty"`
	// Cancelled tasks.
	Cancelled string `json:"cancelled,omitempty"`
	// Dead tasks; one whose dead letter waits stays regardless.
	Dead string `json:"dead,omitempty"`
	// DeadLetters replayed or discarded, from then; waiting ones are never deleted.
	DeadLetters string `json:"dead_letters,omitempty"`
}

// Retention is the answer of GET and PUT /v1/workspaces/{ws}/retention.
type Retention struct {
	// Workspace is the workspace's own settings (the body of the PUT).
	Workspace RetentionSettings `json:"workspace"`
	// Effective is what holds: its settings over the defaults of this server's process.
	Effective RetentionSettings `json:"effective"`
}

func (s *Server) mountRetention(r *Router) {
	r.Handle("PUT /v1/workspaces/{ws}/retention", AdminOnly, s.putRetention)
	r.Handle("GET /v1/workspaces/{ws}/retention", store.RoleGuest, s.getRetention)
}

func (s *Server) putRetention(w http.ResponseWriter, r *Request) *Error {
	var req RetentionSettings
	if e := r.Decode(&req); e != nil {
		return e
	}
	var o store.RetentionOverrides
	for _, f := range []struct {
		name string
		text string
		to   **time.Duration
	}{{"succeeded", req.Succeeded, &o.Succeeded}, {"cancelled", req.Cancelled, &o.Cancelled},
		{"dead", req.Dead, &o.Dead}, {"dead_letters", req.DeadLetters, &o.DeadLetters}} {
		if f.text == "" {
			continue
		}
		d, err := time.ParseDuration(f.text)
		if err != nil {
			return errorf(CodeInvalidArgument, "%s: %q is not a duration such as 24h or 90m (0s keeps for good)", f.name, f.text)
		}
		*f.to = &d
	}
	if err := o.Validate(); err != nil {
		return errorf(CodeInvalidArgument, "%v", err)
	}
	if err := s.cfg.DB.SetWorkspaceRetention(r.Context(), r.Workspace, o); err != nil {
		return errorf(CodeInternal, "%v", err)
	}
	writeJSON(w, http.StatusOK, s.retention(o))
	return nil
}

func (s *Server) getRetention(w http.ResponseWriter, r *Request) *Error {
	o, err := s.cfg.DB.WorkspaceRetention(r.Context(), r.Workspace)
	if err != nil {
		return errorf(CodeInternal, "%v", err)
	}
	writeJSON(w, http.StatusOK, s.retention(o))
	return nil
}

func (s *Server) retention(o store.RetentionOverrides) Retention {
	def := store.DefaultRetention
	if s.cfg.Retention != nil {
		def = *s.cfg.Retention
	}
	text := func(d *time.Duration) string {
		if d == nil {
			return ""
		}
		return d.String()
	}
	eff := o.Over(def)
	return Retention{
		Workspace: RetentionSettings{Succeeded: text(o.Succeeded), Cancelled: text(o.Cancelled), Dead: text(o.Dead), DeadLetters: text(o.DeadLetters)},
		Effective: RetentionSettings{Succeeded: eff.Succeeded.String(), Cancelled: eff.Cancelled.String(), Dead: eff.Dead.String(),
			DeadLetters: eff.DeadLetters.String()},
	}
}

// String is the settings on one line ("succeeded 24h0m0s, cancelled default, …").
func (rs RetentionSettings) String() string {
	or := func(s string) string {
		if s == "" {
			return "default"
		}
		return s
	}
	return fmt.Sprintf("succeeded %s, cancelled %s, dead %s, dead letters %s", or(rs.Succeeded), or(rs.Cancelled), or(rs.Dead), or(rs.DeadLetters))
}
