package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mosaicstack/mosaic/mosaictype"
)

// newSchedulesCmd: periodic tasks of a workspace.
func newSchedulesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedules",
		Short: "Periodic tasks: create, list, get, pause, resume, delete",
		Long: `A schedule publishes an ordinary task of its kind at each due time of a cron expression (in a
time zone) or an interval; each run's task carries the schedule's name, id and due time in its
metadata. Every worker process fires due schedules; each due time gives exactly one task.`,
	}
	cmd.AddCommand(newSchedulesCreateCmd(), newSchedulesListCmd(), newSchedulesGetCmd(),
		newSchedulesPauseCmd(true), newSchedulesPauseCmd(false), newSchedulesDeleteCmd())
	return cmd
}

func newSchedulesCreateCmd() *cobra.Command {
	f := &clientFlags{}
	var req mosaictype.CreateScheduleRequest
	var args string
	cmd := &cobra.Command{
		Use:   "create NAME --kind KIND [--args JSON] (--cron EXPR [--tz ZONE] | --every DUR)",
		Short: "Create a schedule",
		Example: `  mosaic schedules create nightly-report --kind demo.echo --args '{"report":"sales"}' --cron "30 2 * * *" --tz Europe/Paris
  mosaic schedules create heartbeat --kind demo.echo --every 5m --overlap skip --missed skip`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			req.Name = a[0]
			if (req.Cron == "") == (req.Every == "") {
				return usageError{fmt.Errorf("give %s or %s", setting("cron"), setting("every"))}
			}
			raw, err := readArgs(args)
			if err != nil {
				return usageError{fmt.Errorf("%s: %v", setting("args"), err)}
			}
			req.Args = raw
			c, ws, err := f.workspaceClient()
			if err != nil {
				return err
			}
			s, err := c.CreateSchedule(cmd.Context(), ws, req)
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(s)
			}
			printSchedule(s)
			return nil
		},
	}
	f.register(cmd, true)
	fl := cmd.Flags()
	fl.StringVar(&req.Kind, "kind", "", "kind of each run's task (required)")
	fl.StringVar(&args, "args", "", "args of each run's task: JSON, @FILE or @- (default {})")
	fl.IntVar(&req.Priority, "priority", 0, "priority of each run's task, 1 (most urgent) … 10 (default 5)")
	fl.StringArrayVar(&req.Credentials, "credential", nil, "a credential each run's task may open (repeatable)")
	fl.StringVar(&req.Cron, "cron", "", `cron expression: five fields, minute first ("30 2 * * *"), or @hourly, @daily, @weekly, @monthly`)
	fl.StringVar(&req.TimeZone, "tz", "", "IANA time zone of --cron (default UTC)")
	fl.StringVar(&req.Every, "every", "", "interval instead of --cron (e.g. 30s, 5m, 24h; the first run one interval from now)")
	fl.StringVar(&req.Overlap, "overlap", "allow", "while the previous run's task has not ended: allow (publish anyway) or skip")
	fl.StringVar(&req.Missed, "missed", "run_once", "runs found more than a minute late (nothing fired them): run_once (one task for them all) or skip")
	fl.BoolVar(&req.Paused, "paused", false, "create it paused")
	_ = cmd.MarkFlagRequired("kind")
	return cmd
}

func newSchedulesListCmd() *cobra.Command {
	f := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the workspace's schedules, with their next run and last result",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ws, err := f.workspaceClient()
			if err != nil {
				return err
			}
			list, err := c.ListSchedules(cmd.Context(), ws)
			if err != nil {
				return err
			}
			return printTable(f.output, list, "NAME\tKIND\tWHEN\tNEXT RUN\tLAST RUN\tRUNS\tSKIPPED", func(s mosaictype.Schedule) []any {
				return []any{s.Name, s.Kind, when(s), nextRun(s), clock(s.LastRunAt), s.Runs, s.Skipped}
			})
		},
	}
	f.register(cmd, true)
	return cmd
}

func newSchedulesGetCmd() *cobra.Command {
	f := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "get NAME|ID",
		Short: "Show a schedule, its next runs and its last runs with their tasks",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, ws, err := f.workspaceClient()
			if err != nil {
				return err
			}
			s, err := c.GetSchedule(cmd.Context(), ws, a[0])
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(s)
			}
			printSchedule(s)
			if len(s.LastRuns) > 0 {
				fmt.Println()
				tb := newTable(os.Stdout, "DUE\tFIRED\tTASK\tSTATUS")
				for _, r := range s.LastRuns {
					task, status := "-", string(r.TaskStatus)
					if r.TaskID != nil {
						task = r.TaskID.String()
						if status == "" {
							status = "(deleted by retention)"
						}
					} else {
						status = "skipped: " + r.Skipped
					}
					tb.row(clock(&r.DueAt), clock(&r.FiredAt), task, status)
				}
				return tb.flush()
			}
			return nil
		},
	}
	f.register(cmd, true)
	return cmd
}

func newSchedulesPauseCmd(pause bool) *cobra.Command {
	f := &clientFlags{}
	use, short, did := "resume NAME|ID", "Resume a schedule: it runs again from its next due time (runs due while paused are not run)", "resumed"
	if pause {
		use, short, did = "pause NAME|ID", "Pause a schedule: no run fires until it is resumed", "paused"
	}
	cmd := &cobra.Command{
		Use: use, Short: short, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, ws, err := f.workspaceClient()
			if err != nil {
				return err
			}
			s, err := c.SetSchedulePaused(cmd.Context(), ws, a[0], pause)
			if err != nil {
				return err
			}
			return f.result(s, "schedule %s %s; next run %s\n", s.Name, did, nextRun(s))
		},
	}
	f.register(cmd, true)
	return cmd
}

func newSchedulesDeleteCmd() *cobra.Command {
	f := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "delete NAME|ID",
		Short: "Delete a schedule (the tasks it published stay)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, ws, err := f.workspaceClient()
			if err != nil {
				return err
			}
			if err := c.DeleteSchedule(cmd.Context(), ws, a[0]); err != nil {
				return err
			}
			return f.result(map[string]string{"deleted": a[0]}, "schedule %s deleted\n", a[0])
		},
	}
	f.register(cmd, true)
	return cmd
}

func printSchedule(s mosaictype.Schedule) {
	next := make([]string, 0, len(s.NextRuns))
	for _, t := range s.NextRuns {
		next = append(next, clock(&t))
	}
	if len(next) == 0 {
		next = append(next, "paused")
	}
	fmt.Printf("name       %s\nid         %s\nkind       %s\nargs       %s\nwhen       %s\noverlap    %s\nmissed     %s\nnext runs  %s\nruns       %d (skipped %d), last %s\nmade by    %s\n",
		s.Name, s.ID, s.Kind, s.Args, when(s), s.Overlap, s.Missed, strings.Join(next, ", "), s.Runs, s.Skipped, clock(s.LastRunAt), s.CreatedBy)
}

// when is a schedule's timing in a few words.
func when(s mosaictype.Schedule) string {
	if s.Every != "" {
		return "every " + s.Every
	}
	return s.Cron + " (" + s.TimeZone + ")"
}

func nextRun(s mosaictype.Schedule) string {
	if s.PausedAt != nil {
		return "paused"
	}
	return clock(&s.NextRunAt)
}

// clock is a time in the local zone to the second, "-" for none.
func clock(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}
