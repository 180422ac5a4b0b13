package api

import (
	"net/http"
	"net/http/pprof"
)

// mountDebug serves Go's profiles (net/http/pprof) under /debug/pprof/, for the operator's admin
// token only: where a process's CPU and memory go (go tool pprof
// -http=: 'http://…/debug/pprof/heap' with the header Authorization: Bearer <admin token>, or
// curl -H … -o heap.pb.gz first). A profile reveals code paths and sizes, never a secret's value
// (those live in memory only as crypto.Secret), yet only the operator reads them.
func (s *Server) mountDebug(r *Router) {
	// The index, and every named profile under it (heap, goroutine, allocs, block, mutex, …).
	r.Handle("GET /debug/pprof/", AdminOnly, func(w http.ResponseWriter, req *Request) *Error {
		pprof.Index(w, req.Request)
		return nil
	})
	profile := func(h http.HandlerFunc) HandlerFunc {
		return func(w http.ResponseWriter, req *Request) *Error {
			h(w, req.Request)
			return nil
		}
	}
	r.Handle("GET /debug/pprof/cmdline", AdminOnly, profile(pprof.Cmdline))
	r.Handle("GET /debug/pprof/profile", AdminOnly, profile(pprof.Profile))
	r.Handle("GET /debug/pprof/symbol", AdminOnly, profile(pprof.Symbol))
	r.Handle("GET /debug/pprof/trace", AdminOnly, profile(pprof.Trace))
}
