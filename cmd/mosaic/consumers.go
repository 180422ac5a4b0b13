package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mosaicstack/mosaic/mosaictype"
)

func newConsumersCmd() *cobra.Command {
	f := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "consumers",
		Short: "Every stream's consumers: pool, band, pending, ack pending, redelivered, waiting pulls, oldest unacked, rate, dead letters (admin token)",
		Long: `One table per stream (TASKS, CREDENTIALS, KNOWLEDGE, EVENTS), one row per consumer, then the
stream's total:

  POOL, BAND      the pool and priority band the consumer serves (<pool>-p<band> on TASKS)
  PENDING         messages not yet delivered
  ACK PENDING     delivered, not yet acknowledged (running, or waiting for a retry)
  REDELIVERED     unacknowledged messages delivered more than once
  WAITING         pull requests waiting on the server (an idle pool leaves one per band)
  OLDEST UNACKED  age of the oldest unacknowledged message, since it entered the stream
  RATE            messages settled per second over the last minute (n/a until the server
                  has two samples, 5 s apart)
  DEAD            dead letters not yet replayed whose message the consumer's filter matches`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.adminClient()
			if err != nil {
				return err
			}
			rep, err := c.Consumers(cmd.Context())
			if err != nil {
				return err
			}
			for _, w := range rep.Warnings {
				fmt.Fprintln(os.Stderr, "mosaic: warning:", w)
			}
			if f.output == "json" {
				return printJSON(rep)
			}
			return printConsumers(os.Stdout, rep)
		},
	}
	f.register(cmd, false)
	return cmd
}

func printConsumers(out io.Writer, rep mosaictype.ConsumerReport) error {
	for i, sr := range rep.Streams {
		if i > 0 {
			fmt.Fprintln(out)
		}
		fmt.Fprintf(out, "%s  (%d messages)\n", sr.Stream, sr.Messages)
		if sr.Error != "" {
			fmt.Fprintf(out, "  %s\n", sr.Error)
			continue
		}
		if len(sr.Consumers) == 0 {
			fmt.Fprintln(out, "  no consumers")
			continue
		}
		tb := newTable(out, "POOL\tBAND\tPENDING\tACK PENDING\tREDELIVERED\tWAITING\tOLDEST UNACKED\tRATE\tDEAD")
		var paused []string
		for _, c := range sr.Consumers {
			pool, band := consumerLabel(c)
			tb.row(pool, band, c.Pending, c.AckPending, c.Redelivered, c.Waiting, fmtAge(c.OldestUnackedSeconds),
				fmtRate(c.RatePerSecond), fmtCount(c.DeadLetters))
			if c.Paused {
				p := c.Name
				if c.PausedUntil != nil {
					p += " until " + c.PausedUntil.Local().Format(time.DateTime)
				}
				paused = append(paused, p)
			}
		}
		t := sr.Total
		tb.row("total", "", t.Pending, t.AckPending, t.Redelivered, t.Waiting, fmtAge(t.OldestUnackedSeconds),
			fmtRate(t.RatePerSecond), fmtCount(t.DeadLetters))
		if err := tb.flush(); err != nil {
			return err
		}
		if len(paused) > 0 {
			fmt.Fprintf(out, "  paused: %s\n", strings.Join(paused, ", "))
		}
		if len(sr.UnattributedDeadLetters) > 0 {
			fmt.Fprintf(out, "  dead letters no consumer's filter matches (pool gone or changed): %s\n", byReason(sr.UnattributedDeadLetters))
		}
	}
	if rep.DeadLetters != nil {
		total := 0
		for _, n := range rep.DeadLetters {
			total += n
		}
		line := fmt.Sprintf("\ndead letters not replayed: %d", total)
		if total > 0 {
			line += " (" + byReason(rep.DeadLetters) + ")"
		}
		fmt.Fprintln(out, line)
	}
	return nil
}

// consumerLabel is a consumer's POOL and BAND: its pool and band, or its name and "-" for a
// consumer no pool named.
func consumerLabel(c mosaictype.ConsumerState) (pool, band string) {
	switch {
	case c.Pool == "":
		return c.Name, "-"
	case c.Band == "":
		return c.Pool, "-"
	}
	return c.Pool, c.Band
}

// byReason is "reason n, reason n" in the order of the reasons.
func byReason(m map[string]int) string {
	var parts []string
	for _, r := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", r, m[r]))
	}
	return strings.Join(parts, ", ")
}

// fmtAge is a compact age: "-" for none, 42s, 3m05s, 2h07m, 3d04h.
func fmtAge(seconds *float64) string {
	if seconds == nil {
		return "-"
	}
	d := time.Duration(*seconds * float64(time.Second)).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

// fmtRate is messages per second, or n/a while the server has too few samples.
func fmtRate(r *float64) string {
	switch {
	case r == nil:
		return "n/a"
	case *r >= 100:
		return fmt.Sprintf("%.0f/s", *r)
	}
	return fmt.Sprintf("%.1f/s", *r)
}

// fmtCount is a count that may be unknown ("?").
func fmtCount(n *int) string {
	if n == nil {
		return "?"
	}
	return fmt.Sprint(*n)
}
