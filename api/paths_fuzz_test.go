package api_test

// Fuzzing every read route's path segments and query parameters, as FuzzRequestBodies does the
// bodies (same server, same package PostgreSQL). Plain `go test` replays the seeds below and
// testdata/fuzz/FuzzRoutePathsAndQueries; to search (or `make fuzz`):
//
//	go test -run '^$' -fuzz '^FuzzRoutePathsAndQueries$' -fuzztime 40s -parallel 1 ./api/

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzRoutePathsAndQueries puts a fuzzed path segment and a fuzzed query value into every read
// route with a wildcard or query parameters: no answer is a 5xx, and every 4xx is a JSON error
// whose code matches its status. NUL bytes, invalid UTF-8, the nil UUID, numbers out of range and
// traversal attempts are among the seeds.
func FuzzRoutePathsAndQueries(f *testing.F) {
	for _, s := range []struct{ seg, q string }{
		{"x", "x"}, {"", ""}, {"\x00", "\x00"}, {"\xff\xfe", "\xff"}, {"00000000-0000-0000-0000-000000000000", "0"},
		{"01a2226a-57f6-791f-8b63-585890e3a89f", "01a2226a-57f6-791f-8b63-585890e3a89f"}, {"../../etc/passwd", "../"},
		{"%", "%"}, {"a/b", "a&b=c"}, {strings.Repeat("s", 300), strings.Repeat("q", 5000)}, {"1e400", "1e400"},
		{"-1", "-1"}, {"9223372036854775808", "9223372036854775808"}, {"\xed\xa0\x80", "\x00x"}, {" ", " "},
	} {
		f.Add(s.seg, s.q)
	}
	env := newBodyFuzzEnv(f)
	ws := env.routes[3].path[:strings.LastIndex(env.routes[3].path, "/")] // /v1/workspaces/<id>
	f.Fuzz(func(t *testing.T, seg, q string) {
		if len(seg) > 4096 || len(q) > 16<<10 {
			t.Skip("too long for a request line")
		}
		p, v := url.PathEscape(seg), url.QueryEscape(q)
		for _, path := range []string{
			"/v1/workspaces/" + p,
			ws + "/tasks?status=" + v + "&kind=" + v + "&cursor=" + v + "&limit=" + v,
			ws + "/tasks/" + p,
			ws + "/tasks/" + p + "/events",
			ws + "/dead-letters?reason=" + v + "&cursor=" + v + "&limit=" + v,
			ws + "/dead-letters/" + p,
			ws + "/credentials/" + p,
			ws + "/credentials/audit?credential=" + v + "&cursor=" + v + "&limit=" + v,
			ws + "/knowledge/entries/" + p,
			ws + "/knowledge/entries/" + p + "/versions",
			ws + "/knowledge/entries?tag=" + v + "&status=" + v + "&cursor=" + v + "&limit=" + v,
			ws + "/knowledge/search?q=" + v + "&mode=" + v + "&limit=" + v,
			ws + "/knowledge/graph?tag=" + v,
			ws + "/api-keys?cursor=" + v,
		} {
			env.check(t, fuzzRoute{method: http.MethodGet, path: path}, nil)
		}
	})
}
