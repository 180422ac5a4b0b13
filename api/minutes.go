package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

// Minutes (mosaictype.Minutes) is the answer of GET /v1/stats/minutes: what the worker processes
// measured per minute over the last hour (their heartbeats write it), summed over processes — per
// pool, stream and priority, and in all.
type Minutes = mosaictype.Minutes

// MinuteSeries (mosaictype.MinuteSeries) is one pool, stream and priority (empty in Minutes.Total)
// minute by minute. A percentile is -1 in a minute without runs.
type MinuteSeries = mosaictype.MinuteSeries

func (s *Server) minutes(w http.ResponseWriter, r *Request) *Error {
	n := 60
	if v := r.URL.Query().Get("minutes"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 60 {
			return errorf(CodeInvalidArgument, "minutes %q: want 1…60", v)
		}
	}
	first := time.Now().Truncate(time.Minute).Add(-time.Duration(n-1) * time.Minute)
	stats, err := s.cfg.DB.FleetMinutes(r.Context(), first)
	if err != nil {
		return errorOf(err)
	}
	out := Minutes{BoundsMS: store.MinuteBoundsMS, Series: []MinuteSeries{}}
	for i := range n {
		out.Minutes = append(out.Minutes, first.Add(time.Duration(i)*time.Minute).UTC())
	}
	type seriesKey struct {
		pool, stream string
		priority     int
	}
	total := make([]store.MinuteStat, n)
	bySeries := map[seriesKey][]store.MinuteStat{}
	var order []seriesKey // as FleetMinutes sorts them
	for _, st := range stats {
		i := int(st.Minute.Sub(first) / time.Minute)
		if i < 0 || i >= n {
			continue
		}
		k := seriesKey{st.Pool, st.Stream, st.Priority}
		if bySeries[k] == nil {
			bySeries[k] = make([]store.MinuteStat, n)
			order = append(order, k)
		}
		bySeries[k][i].Add(st)
		total[i].Add(st)
	}
	out.Total = minuteSeries(total)
	for _, k := range order {
		series := minuteSeries(bySeries[k])
		series.Pool, series.Stream, series.Priority = k.pool, k.stream, k.priority
		out.Series = append(out.Series, series)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func minuteSeries(ms []store.MinuteStat) MinuteSeries {
	var s MinuteSeries
	for _, m := range ms {
		s.Succeeded = append(s.Succeeded, m.Succeeded)
		s.Failed = append(s.Failed, m.Failed)
		s.WaitP50MS = append(s.WaitP50MS, store.Percentile(m.Wait, 0.50))
		s.WaitP95MS = append(s.WaitP95MS, store.Percentile(m.Wait, 0.95))
		s.RunP50MS = append(s.RunP50MS, store.Percentile(m.Run, 0.50))
		s.RunP95MS = append(s.RunP95MS, store.Percentile(m.Run, 0.95))
		s.RunP99MS = append(s.RunP99MS, store.Percentile(m.Run, 0.99))
	}
	return s
}
