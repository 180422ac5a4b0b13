package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mosaicstack/mosaic/api/client"
	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

func newTopCmd() *cobra.Command {
	f := &clientFlags{}
	var interval time.Duration
	var once bool
	cmd := &cobra.Command{
		Use:   "top",
		Short: "A live view of the system: tasks by status, consumers, agents, busiest workspaces (admin token)",
		Long: `A live view, refreshed in place every --interval: tasks by status over every workspace, the
consumers with work (pending, ack pending, redelivered, waiting pulls, oldest unacked, rate over the
last minute, dead letters; idle ones are counted, not listed), the agents, and the busiest
workspaces. q or Ctrl-C quits. When the server cannot be reached or answers an error, top says so
and tries again at the next interval. --once prints one frame and exits (non-zero when the server
cannot be reached).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval < 200*time.Millisecond {
				return fmt.Errorf("%s: %s is below 200ms", setting("interval"), interval)
			}
			c, err := f.adminClient()
			if err != nil {
				return err
			}
			return runTop(cmd.Context(), c, f.serverURL(), f.output == "json", interval, once)
		},
	}
	f.register(cmd, false)
	cmd.Flags().DurationVar(&interval, "interval", 2*time.Second, "time between refreshes")
	cmd.Flags().BoolVar(&once, "once", false, "print one frame and exit")
	return cmd
}

// topSnapshot is what one frame shows.
type topSnapshot struct {
	Server    string                     `json:"server"`
	At        time.Time                  `json:"at"`
	Overview  *mosaictype.Overview       `json:"overview"`
	Consumers *mosaictype.ConsumerReport `json:"consumers"`
	// Agents is nil when the server has no agent registry (GET /v1/agents answers 404).
	Agents []topAgent `json:"agents"`
	// Errors says, by section (overview, consumers, agents), what the server answered instead.
	Errors map[string]string `json:"errors,omitempty"`
}

// topAgent is the part of GET /v1/agents that top shows.
type topAgent struct {
	Name        string    `json:"name"`
	Host        string    `json:"host"`
	PID         int       `json:"pid"`
	State       string    `json:"state"`
	Pools       []string  `json:"pools"`
	Concurrency int       `json:"concurrency"`
	InFlight    int       `json:"in_flight"`
	HeartbeatAt time.Time `json:"heartbeat_at"`
}

// errUnreachable marks a frame that found no server at all.
type errUnreachable struct{ err error }

func (e *errUnreachable) Error() string { return "server unreachable: " + e.err.Error() }
func (e *errUnreachable) Unwrap() error { return e.err }

func runTop(ctx context.Context, c *client.Client, server string, asJSON bool, interval time.Duration, once bool) error {
	if once {
		snap, err := fetchTop(ctx, c, server, interval)
		if err != nil {
			return err
		}
		if asJSON {
			return printJSON(snap)
		}
		return renderTop(os.Stdout, snap, 0)
	}
	live := isTerminal(os.Stdout) && !asJSON
	quit := make(chan struct{})
	if live && isTerminal(os.Stdin) {
		if restore, err := cbreak(os.Stdin); err == nil {
			defer restore()
			go readQuitKey(os.Stdin, quit)
		}
	}
	if live {
		fmt.Print("\x1b[?25l\x1b[H\x1b[2J") // hide the cursor, home, clear
		defer fmt.Print("\x1b[?25h\n")
	}
	for {
		snap, err := fetchTop(ctx, c, server, interval)
		if ctx.Err() != nil {
			return nil // Ctrl-C during a fetch
		}
		var frame bytes.Buffer
		switch {
		case err != nil:
			fmt.Fprintf(&frame, "mosaic top  %s  %s\n\n%s, retrying in %s\n", server, time.Now().Format(time.TimeOnly), errLine(err), interval)
		case asJSON:
			if err := printJSON(snap); err != nil {
				return err
			}
		default:
			_ = renderTop(&frame, snap, termWidth(os.Stdout))
		}
		if live {
			fmt.Print("\x1b[H" + strings.ReplaceAll(frame.String(), "\n", "\x1b[K\n") + "\x1b[J")
		} else if frame.Len() > 0 {
			fmt.Print(frame.String() + "\n")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-quit:
			return nil
		case <-time.After(interval):
		}
	}
}

// errLine is the one line a frame shows for a fetch that failed.
func errLine(err error) string {
	var unreachable *errUnreachable
	if errors.As(err, &unreachable) {
		return oneLine(err.Error())
	}
	return "server answered an error: " + oneLine(err.Error())
}

// fetchTop reads the overview, the consumers and the agents at once. It fails when the server
// cannot be reached, or when it answers neither the overview nor the consumers; a section the
// server refuses alone is noted in the snapshot.
func fetchTop(ctx context.Context, c *client.Client, server string, interval time.Duration) (topSnapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, max(interval, 10*time.Second))
	defer cancel()
	snap := topSnapshot{Server: server, At: time.Now(), Errors: map[string]string{}}
	var ov mosaictype.Overview
	var cons mosaictype.ConsumerReport
	var agents struct {
		Agents []topAgent `json:"agents"`
	}
	var ovErr, consErr, agentsErr error
	var wg sync.WaitGroup
	wg.Go(func() { ov, ovErr = c.Overview(ctx) })
	wg.Go(func() { cons, consErr = c.Consumers(ctx) })
	wg.Go(func() { agentsErr = c.Do(ctx, http.MethodGet, "/v1/agents", nil, &agents) })
	wg.Wait()
	for _, err := range []error{ovErr, consErr, agentsErr} {
		var apiErr *mosaictype.Error
		if err != nil && !errors.As(err, &apiErr) {
			return snap, &errUnreachable{err}
		}
	}
	if ovErr != nil && consErr != nil {
		return snap, ovErr
	}
	if ovErr == nil {
		snap.Overview = &ov
	} else {
		snap.Errors["overview"] = ovErr.Error()
	}
	switch {
	case consErr == nil:
		snap.Consumers = &cons
	case mosaictype.IsCode(consErr, mosaictype.CodeNotFound):
		snap.Errors["consumers"] = "not available (this server has no JetStream handle)"
	default:
		snap.Errors["consumers"] = consErr.Error()
	}
	switch {
	case agentsErr == nil:
		snap.Agents = agents.Agents
		if snap.Agents == nil {
			snap.Agents = []topAgent{}
		}
	case mosaictype.IsCode(agentsErr, mosaictype.CodeNotFound):
		snap.Errors["agents"] = "not available"
	default:
		snap.Errors["agents"] = agentsErr.Error()
	}
	return snap, nil
}

// renderTop writes one frame; width > 0 cuts every line to that many characters.
func renderTop(out io.Writer, snap topSnapshot, width int) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "mosaic top  %s  %s   (q or Ctrl-C quits)\n", snap.Server, snap.At.Format(time.DateTime))
	if ov := snap.Overview; ov != nil {
		t := ov.Totals
		fmt.Fprintf(&b, "tasks  queued %d  scheduled %d  running %d  retrying %d\n", t[store.StatusQueued], t[store.StatusScheduled],
			t[store.StatusRunning], t[store.StatusRetrying])
		fmt.Fprintf(&b, "       succeeded %d  dead %d (%d in the last hour)  cancelled %d  | %d workspaces\n",
			t[store.StatusSucceeded], t[store.StatusDead], ov.DeadLastHour, t[store.StatusCancelled], ov.Workspaces)
	} else {
		fmt.Fprintf(&b, "tasks: %s\n", oneLine(snap.Errors["overview"]))
	}

	fmt.Fprintln(&b)
	if rep := snap.Consumers; rep != nil {
		renderTopConsumers(&b, rep)
	} else {
		fmt.Fprintf(&b, "consumers: %s\n", oneLine(snap.Errors["consumers"]))
	}

	fmt.Fprintln(&b)
	switch {
	case snap.Agents == nil:
		fmt.Fprintf(&b, "agents: %s\n", oneLine(snap.Errors["agents"]))
	case len(snap.Agents) == 0:
		fmt.Fprintln(&b, "agents: none registered")
	default:
		renderTopAgents(&b, snap.Agents, snap.At)
	}

	if ov := snap.Overview; ov != nil {
		fmt.Fprintln(&b)
		if len(ov.Busiest) == 0 {
			fmt.Fprintln(&b, "busiest workspaces: none running, queued, retrying or dead in the last hour")
		} else {
			tb := newTable(&b, "BUSIEST WORKSPACES\tRUNNING\tQUEUED\tRETRYING\tDEAD/1H")
			for _, l := range ov.Busiest {
				tb.row(cut(l.Name, 32), l.Running, l.Queued, l.Retrying, l.DeadLastHour)
			}
			_ = tb.flush()
		}
	}

	sc := bufio.NewScanner(&b)
	for sc.Scan() {
		line := sc.Text()
		if width > 0 {
			line = cut(line, width)
		}
		if _, err := fmt.Fprintln(out, line); err != nil {
			return err
		}
	}
	return nil
}

// renderTopConsumers writes a line per stream (its totals) and one per consumer with work;
// the idle consumers are counted.
func renderTopConsumers(b *bytes.Buffer, rep *mosaictype.ConsumerReport) {
	tb := newTable(b, "CONSUMERS\tPEND\tACKPEND\tREDELIV\tWAIT\tOLDEST\tRATE\tDEAD")
	idle := 0
	var notes []string // after the table: a line with fewer cells would break its columns
	for _, sr := range rep.Streams {
		if sr.Error != "" {
			notes = append(notes, sr.Stream+": "+oneLine(sr.Error))
			continue
		}
		if len(sr.Consumers) == 0 {
			notes = append(notes, sr.Stream+": no consumers")
			continue
		}
		t := sr.Total
		tb.row(sr.Stream, t.Pending, t.AckPending, t.Redelivered, t.Waiting, fmtAge(t.OldestUnackedSeconds),
			fmtRate(t.RatePerSecond), fmtCount(t.DeadLetters))
		for _, c := range sr.Consumers {
			busy := c.Pending > 0 || c.AckPending > 0 || c.Redelivered > 0 || c.Paused ||
				(c.DeadLetters != nil && *c.DeadLetters > 0) || (c.RatePerSecond != nil && *c.RatePerSecond > 0)
			if !busy {
				idle++
				continue
			}
			label := "  " + cut(c.Name, 20)
			if c.Pool != "" {
				label = "  " + cut(c.Pool, 16) + " " + c.Band
			}
			if c.Paused {
				label += " (paused)"
			}
			tb.row(label, c.Pending, c.AckPending, c.Redelivered, c.Waiting, fmtAge(c.OldestUnackedSeconds),
				fmtRate(c.RatePerSecond), fmtCount(c.DeadLetters))
		}
	}
	_ = tb.flush()
	for _, n := range notes {
		fmt.Fprintf(b, "%s\n", n)
	}
	if idle > 0 {
		fmt.Fprintf(b, "(%d idle consumers not shown: mosaic consumers lists them all)\n", idle)
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(b, "warning: %s\n", oneLine(w))
	}
}

// maxTopAgents bounds the agents a frame lists.
const maxTopAgents = 8

func renderTopAgents(b *bytes.Buffer, agents []topAgent, now time.Time) {
	tb := newTable(b, "AGENTS\tSTATE\tPOOLS\tIN FLIGHT\tHEARTBEAT")
	for i, a := range agents {
		if i == maxTopAgents {
			break
		}
		name := a.Name
		if name == "" {
			name = fmt.Sprintf("%s:%d", a.Host, a.PID)
		}
		beat := "-"
		if !a.HeartbeatAt.IsZero() {
			age := max(now.Sub(a.HeartbeatAt), 0).Seconds()
			beat = fmtAge(&age) + " ago"
		}
		tb.row(cut(name, 24), cut(a.State, 10), cut(strings.Join(a.Pools, ","), 16), fmt.Sprintf("%d/%d", a.InFlight, a.Concurrency), beat)
	}
	_ = tb.flush()
	if len(agents) > maxTopAgents {
		fmt.Fprintf(b, "(%d more: mosaic agents lists them all)\n", len(agents)-maxTopAgents)
	}
}

// cut shortens s to n characters, marking the cut with "…".
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:max(n-1, 0)]) + "…"
}

// readQuitKey closes quit when q (or Q) is typed.
func readQuitKey(in io.Reader, quit chan<- struct{}) {
	buf := make([]byte, 16)
	for {
		n, err := in.Read(buf)
		if err != nil {
			return
		}
		if bytes.ContainsAny(buf[:n], "qQ") {
			close(quit)
			return
		}
	}
}

// termWidth is the terminal's width in columns (80 when it cannot be read).
func termWidth(f *os.File) int {
	if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
		return w
	}
	return 80
}
