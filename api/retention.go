package api

import (
	"net/http"
	"time"

	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

// RetentionSettings (mosaictype.RetentionSettings) say how long each class of finished work is
// kept: a Go duration ("24h", "90m"), "0s" to keep it for good. In a workspace's own settings an
// absent class takes the process's default (docs/operations.md, "Retention").
type RetentionSettings = mosaictype.RetentionSettings

// Retention (mosaictype.Retention) is the answer of GET and PUT /v1/workspaces/{ws}/retention.
type Retention = mosaictype.Retention

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
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, s.retention(o))
	return nil
}

func (s *Server) getRetention(w http.ResponseWriter, r *Request) *Error {
	o, err := s.cfg.DB.WorkspaceRetention(r.Context(), r.Workspace)
	if err != nil {
		return errorOf(err)
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
