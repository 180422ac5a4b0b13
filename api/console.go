package api

import (
	"embed"
	"net/http"
)

// The console: plain HTML, CSS and JavaScript embedded in the binary (no build step). Pages
// authenticate their API calls with the key a person types in; the pages themselves are public.
//
//go:embed console
var consoleFiles embed.FS

func (s *Server) mountConsole() {
	files := http.FileServerFS(consoleFiles)
	serve := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "no-referrer")
			r2 := r.Clone(r.Context())
			r2.URL.Path = "/console/" + name
			files.ServeHTTP(w, r2)
		}
	}
	s.mux.HandleFunc("GET /console", serve("console.html"))
	s.mux.HandleFunc("GET /console/{$}", serve("console.html"))
	s.mux.HandleFunc("GET /console/console.js", serve("console.js"))
	s.mux.HandleFunc("GET /console/knowledge", serve("knowledge.html"))
	s.mux.HandleFunc("GET /console/knowledge.js", serve("knowledge.js"))
	s.mux.HandleFunc("GET /console/console.css", serve("console.css"))
}
