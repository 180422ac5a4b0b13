package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/mosaicstack/mosaic/api/client"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/federation"
	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

func newPublishCmd() *cobra.Command {
	f := &clientFlags{}
	var (
		req                  mosaictype.PublishRequest
		args, runAt          string
		delay, timeout       time.Duration
		wait                 bool
		traceParent          string
		instance, peerWS     string
		priority, maxAttempt int
	)
	cmd := &cobra.Command{
		Use:   "publish --kind KIND [flags]",
		Short: "Publish a task; prints its id (with --wait, waits for its end: exit 0 only if it succeeded)",
		Example: `  mosaic publish --kind demo.echo --args '{"hello":"world"}'
  mosaic publish --kind demo.steps --args '{"steps":20,"step_ms":50}' --wait
  mosaic publish --kind demo.steps --args @args.json --priority 1 --delay 10m --idempotency-key nightly-2026-11-28`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl := cmd.Flags()
			if err := events.ValidateKind(req.Kind); err != nil {
				return fmt.Errorf("%s: %v", setting("kind"), err)
			}
			if fl.Changed("priority") {
				if err := events.ValidatePriority(priority); err != nil {
					return fmt.Errorf("%s: %v", setting("priority"), err)
				}
				req.Priority = priority
			}
			if fl.Changed("max-attempts") {
				if maxAttempt < 1 || maxAttempt > events.MaxAttemptsLimit {
					return fmt.Errorf("%s: must be 1…%d", setting("max-attempts"), events.MaxAttemptsLimit)
				}
				req.MaxAttempts = maxAttempt
			}
			if delay < 0 {
				return fmt.Errorf("%s: %s is negative", setting("delay"), delay)
			}
			if timeout < 0 {
				return fmt.Errorf("%s: %s is negative", setting("timeout"), timeout)
			}
			if delay > 0 && runAt != "" {
				return fmt.Errorf("give %s or %s, not both", setting("delay"), setting("run-at"))
			}
			if delay > 0 {
				req.Delay = delay.String()
			}
			if timeout > 0 {
				req.Timeout = timeout.String()
			}
			if runAt != "" {
				t, err := time.Parse(time.RFC3339, runAt)
				if err != nil {
					return fmt.Errorf("%s: %q is not an RFC 3339 time (2026-11-28T09:00:00Z)", setting("run-at"), runAt)
				}
				req.RunAt = &t
			}
			raw, err := readArgs(args)
			if err != nil {
				return fmt.Errorf("%s: %v", setting("args"), err)
			}
			req.Args = raw
			if traceParent == "" {
				traceParent = os.Getenv("TRACEPARENT") // the convention of OpenTelemetry-aware CLIs
			}
			if traceParent != "" && !events.ValidTraceParent(traceParent) {
				return fmt.Errorf("%s: %q is not a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>)", setting("traceparent"), traceParent)
			}
			c, ws, err := f.workspaceClient()
			if err != nil {
				return err
			}
			c.TraceParent = traceParent
			if instance != "" {
				return publishOnPeer(cmd.Context(), c, ws.String(), f, instance, peerWS, req, wait)
			}
			res, err := c.Publish(cmd.Context(), ws, req)
			if err != nil {
				return err
			}
			if !wait {
				if f.output == "json" {
					return printJSON(res)
				}
				fmt.Println(res.ID)
				if res.Duplicate {
					fmt.Fprintf(os.Stderr, "a task with this idempotency key exists already (status %s)\n", res.Status)
				}
				return nil
			}
			if f.output != "json" {
				fmt.Println(res.ID)
			}
			task, err := c.WaitTask(cmd.Context(), ws, res.ID)
			if err != nil {
				return err
			}
			if f.output == "json" {
				if err := printJSON(task); err != nil {
					return err
				}
			} else {
				printTask(task)
			}
			if task.Status != store.StatusSucceeded {
				return &exitError{code: exitTaskFailed, msg: fmt.Sprintf("task %s ended %s: %s", task.ID, task.Status, deref(task.LastError))}
			}
			return nil
		},
	}
	f.register(cmd, true)
	fl := cmd.Flags()
	fl.StringVar(&req.Kind, "kind", "", "kind of task (required), e.g. demo.steps")
	fl.IntVar(&priority, "priority", events.DefaultPriority, "1 (most urgent) … 10")
	fl.StringVar(&args, "args", "", "arguments: JSON, @FILE, or @- for standard input (default {})")
	fl.StringArrayVar(&req.Credentials, "credential", nil, "name of a credential the task may open (repeatable)")
	fl.DurationVar(&delay, "delay", 0, "run after this long (e.g. 10m)")
	fl.StringVar(&runAt, "run-at", "", "run at this time (RFC 3339)")
	fl.IntVar(&maxAttempt, "max-attempts", 0, "attempts before the task is dead-lettered (default: the kind's, 25)")
	fl.DurationVar(&timeout, "timeout", 0, "bound on one attempt (default none)")
	fl.StringVar(&req.IdempotencyKey, "idempotency-key", "", "publishing the same key again gives the same task")
	fl.BoolVar(&wait, "wait", false, "wait for the task to end; exit 0 only if it succeeded, 5 if it did not")
	fl.StringVar(&traceParent, "traceparent", "", "W3C trace context the task continues (default: $TRACEPARENT)")
	fl.StringVar(&instance, "instance", "", "publish on this connected instance (by name) instead, within what it grants this one")
	fl.StringVar(&peerWS, "peer-workspace", "", "with --instance: the peer's workspace (default: the one that grants the kind)")
	_ = cmd.MarkFlagRequired("kind")
	return cmd
}

// readArgs reads --args: inline JSON, @FILE or @- (standard input).
func readArgs(v string) (json.RawMessage, error) {
	if v == "" {
		return nil, nil
	}
	var b []byte
	switch {
	case v == "@-":
		var err error
		if b, err = io.ReadAll(io.LimitReader(os.Stdin, events.MaxArgsBytes+1)); err != nil {
			return nil, err
		}
	case strings.HasPrefix(v, "@"):
		var err error
		if b, err = os.ReadFile(v[1:]); err != nil {
			return nil, err
		}
	default:
		b = []byte(v)
	}
	if len(b) > events.MaxArgsBytes {
		return nil, fmt.Errorf("args are larger than %d bytes", events.MaxArgsBytes)
	}
	if !json.Valid(b) {
		return nil, errors.New("not valid JSON")
	}
	return b, nil
}

func newTasksCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "tasks", Short: "Read, list and cancel tasks"}
	cmd.AddCommand(newTasksGetCmd(), newTasksListCmd(), newTasksCancelCmd(), newTasksRetryCmd(), newTasksRunCmd(), newTasksDeleteCmd())
	return cmd
}

func newTasksGetCmd() *cobra.Command {
	f := &clientFlags{}
	var withEvents bool
	var instance string
	cmd := idCommand(f, "task", "get TASK_ID",
		"Show a task (status, attempt, progress, checkpoint sequence, result, last error); with --instance, a connected instance's",
		func(cmd *cobra.Command, c *client.Client, ws, id uuid.UUID) error {
			if instance != "" {
				if withEvents {
					return fmt.Errorf("%s: a connected instance's task has no events here", setting("events"))
				}
				t, err := c.PeerTask(cmd.Context(), ws.String(), instance, id)
				if err != nil {
					return err
				}
				if f.output == "json" {
					return printJSON(t)
				}
				fmt.Printf("task      %s  (on %s, workspace %s)\nkind      %s\nstatus    %s\nattempt   %d\nprogress  %.0f%%\n", t.ID, instance, t.Workspace,
					t.Kind, t.Status, t.Attempt, t.Progress*100)
				if t.LastError != nil {
					fmt.Printf("error     %s\n", *t.LastError)
				}
				if len(t.Result) > 0 {
					fmt.Printf("result    %s\n", t.Result)
				}
				return nil
			}
			task, err := c.GetTask(cmd.Context(), ws, id, 0)
			if err != nil {
				return err
			}
			var evs []store.TaskEvent
			if withEvents {
				if evs, err = c.TaskEvents(cmd.Context(), ws, id); err != nil {
					return err
				}
			}
			if f.output == "json" {
				if withEvents {
					return printJSON(map[string]any{"task": task, "events": evs})
				}
				return printJSON(task)
			}
			printTask(task)
			if withEvents {
				tb := newTable(os.Stdout, "\nAT\tEVENT\tATTEMPT\tWORKER")
				for _, e := range evs {
					tb.row(e.At.Format("15:04:05.000"), e.Type, e.Attempt, e.Worker)
				}
				return tb.flush()
			}
			return nil
		})
	cmd.Flags().BoolVar(&withEvents, "events", false, "also list the task's transitions")
	cmd.Flags().StringVar(&instance, "instance", "", "read the task on this connected instance (it must grant tasks.read)")
	return cmd
}

func newTasksListCmd() *cobra.Command {
	f := &clientFlags{}
	var status, kind, search, since, until string
	var fed, internal, oldest bool
	var sortBy string
	pg := &pageFlags{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tasks, newest first (or --oldest first)",
		Example: `  mosaic tasks list --status dead --since 1h
  mosaic tasks list --search customer.id=42
  mosaic tasks list --search order-7        # an idempotency key, or a task id
  mosaic tasks list --internal              # with the system's own tasks (credentials.…, knowledge.…)
  mosaic tasks list --status dead --sort finished   # the latest to die first`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains(store.TaskSorts(), sortBy) {
				return usageError{fmt.Errorf("%s: %q is not created, updated, finished or priority", setting("sort"), sortBy)}
			}
			tq := client.TaskQuery{Status: store.Status(status), Kind: kind, Search: search, Internal: internal, Oldest: oldest, Sort: sortBy}
			var err error
			if tq.Since, err = timeFlag("since", since); err != nil {
				return err
			}
			if tq.Until, err = timeFlag("until", until); err != nil {
				return err
			}
			if fed && (search != "" || internal || oldest || sortBy != store.SortCreated || since != "" || until != "") {
				return usageError{fmt.Errorf("--federated filters by --status and --kind only")}
			}
			if status != "" && !store.ValidStatus(store.Status(status)) {
				return fmt.Errorf("%s: %q is not queued, scheduled, running, retrying, succeeded, dead or cancelled", setting("status"), status)
			}
			if kind != "" {
				if err := events.ValidateKind(kind); err != nil {
					return fmt.Errorf("%s: %v", setting("kind"), err)
				}
			}
			if err := pg.validate(); err != nil {
				return err
			}
			c, ws, err := f.workspaceClient()
			if err != nil {
				return err
			}
			if fed {
				if pg.cursor != "" {
					return fmt.Errorf("%s: a federated list has one page (no --cursor)", setting("federated"))
				}
				q := url.Values{"limit": {strconv.Itoa(pg.limit)}}
				if status != "" {
					q.Set("status", status)
				}
				if kind != "" {
					q.Set("kind", kind)
				}
				res, err := c.FederatedTasks(cmd.Context(), ws.String(), q)
				if err != nil {
					return err
				}
				if f.output == "json" {
					return printList(res.Tasks, "", "instances", res.Instances, "partial", res.Partial)
				}
				tb := newTable(os.Stdout, "INSTANCE\tWORKSPACE\tID\tKIND\tSTATUS\tCREATED")
				for _, t := range res.Tasks {
					tb.row(t.Instance, t.Workspace, t.ID, t.Kind, t.Status, t.CreatedAt.Local().Format("2006-01-02 15:04:05"))
				}
				_ = tb.flush()
				printInstances(res.Instances, res.Partial)
				return nil
			}
			tq.Cursor, tq.Limit = pg.cursor, pg.limit
			list, err := c.ListTasks(cmd.Context(), ws, tq)
			if err != nil {
				return err
			}
			return printPage(f.output, list.Tasks, list.NextCursor, "--cursor", "ID\tKIND\tPRIO\tSTATUS\tATTEMPT\tPROGRESS\tCREATED",
				func(t store.Task) []any {
					return []any{t.ID, t.Kind, t.Priority, t.Status, fmt.Sprintf("%d/%d", t.Attempt, t.MaxAttempts),
						fmt.Sprintf("%3.0f%%", t.Progress*100), t.CreatedAt.Local().Format("2006-01-02 15:04:05")}
				})
		},
	}
	f.register(cmd, true)
	pg.register(cmd)
	cmd.Flags().StringVar(&status, "status", "", "only tasks in this status")
	cmd.Flags().StringVar(&kind, "kind", "", "only tasks of this kind")
	cmd.Flags().BoolVar(&fed, "federated", false, "also list the connected instances' tasks (within what they grant this one), labelled")
	cmd.Flags().StringVar(&search, "search", "", "a task id, an idempotency key, or an argument as name=value (a.b=value reaches into objects; value is JSON, or else text)")
	cmd.Flags().StringVar(&since, "since", "", "only tasks created at or after this time (RFC 3339, or a duration back from now: 1h, 30m)")
	cmd.Flags().StringVar(&until, "until", "", "only tasks created before this time (RFC 3339, or a duration back from now)")
	cmd.Flags().BoolVar(&oldest, "oldest", false, "oldest first (default: newest first); with --sort priority, least urgent first")
	cmd.Flags().StringVar(&sortBy, "sort", store.SortCreated, "order by created, updated (last change), finished (ended tasks only) or priority (most urgent first, then oldest)")
	cmd.Flags().BoolVar(&internal, "internal", false, "show the system's own tasks too (credentials.…, knowledge.…), which a list without --kind leaves out")
	return cmd
}

// timeFlag reads a time flag: RFC 3339, or a duration back from now (1h: an hour ago).
func timeFlag(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return time.Time{}, usageError{fmt.Errorf("--%s %q is neither an RFC 3339 time (2026-12-07T08:00:00Z) nor a positive duration (1h, 30m)", name, v)}
	}
	return time.Now().Add(-d), nil
}

func newTasksCancelCmd() *cobra.Command {
	f := &clientFlags{}
	cmd := idCommand(f, "task", "cancel TASK_ID",
		"Cancel a task (a running one is asked to stop)",
		func(cmd *cobra.Command, c *client.Client, ws, id uuid.UUID) error {
			status, err := c.CancelTask(cmd.Context(), ws, id)
			if err != nil {
				return err
			}
			return f.result(map[string]any{"id": id, "status": status}, "%s %s\n", id, status)
		})
	return cmd
}

func newTasksRetryCmd() *cobra.Command {
	f := &clientFlags{}
	var fresh bool
	cmd := idCommand(f, "task", "retry TASK_ID",
		"Queue an ended task (dead, cancelled or succeeded) again, under a new generation (admin)",
		func(cmd *cobra.Command, c *client.Client, ws, id uuid.UUID) error {
			res, err := c.RetryTask(cmd.Context(), ws, id, fresh)
			if err != nil {
				return err
			}
			return f.result(res, "%s %s (generation %d)\n", res.TaskID, res.Status, res.Generation)
		})
	cmd.Flags().BoolVar(&fresh, "fresh", false, "drop the task's last checkpoint: start from the beginning")
	return cmd
}

func newTasksRunCmd() *cobra.Command {
	f := &clientFlags{}
	return idCommand(f, "task", "run TASK_ID",
		"Run a scheduled (delayed) task now instead of at its run_at",
		func(cmd *cobra.Command, c *client.Client, ws, id uuid.UUID) error {
			res, err := c.RunTaskNow(cmd.Context(), ws, id)
			if err != nil {
				return err
			}
			return f.result(res, "%s %s\n", res.TaskID, res.Status)
		})
}

func newTasksDeleteCmd() *cobra.Command {
	f := &clientFlags{}
	return idCommand(f, "task", "delete TASK_ID",
		"Delete an ended task (succeeded, dead or cancelled) and its events; its dead letters stay (admin)",
		func(cmd *cobra.Command, c *client.Client, ws, id uuid.UUID) error {
			if err := c.DeleteTask(cmd.Context(), ws, id); err != nil {
				return err
			}
			return f.result(map[string]any{"id": id, "deleted": true}, "%s deleted\n", id)
		})
}

func newDLQCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "dlq", Short: "The workspace's dead letters: summary, list, show, replay, discard"}
	cmd.AddCommand(newDLQSummaryCmd(), newDLQListCmd(), newDLQShowCmd(), newDLQReplayCmd(), newDLQDiscardCmd())
	return cmd
}

func newDLQListCmd() *cobra.Command {
	f := &clientFlags{}
	var reason, kind, state string
	pg := &pageFlags{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List dead letters, newest first (the discarded ones with --state discarded or all)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := pg.validate(); err != nil {
				return err
			}
			if !store.ValidDeadLetterState(state) {
				return usageError{fmt.Errorf("--state %q is not pending, replayed, discarded or all", state)}
			}
			c, ws, err := f.workspaceClient()
			if err != nil {
				return err
			}
			list, err := c.ListDeadLetters(cmd.Context(), ws, client.DeadLetterQuery{Reason: reason, Kind: kind, State: state, Cursor: pg.cursor, Limit: pg.limit})
			if err != nil {
				return err
			}
			return printPage(f.output, list.DeadLetters, list.NextCursor, "--cursor", "ID\tREASON\tKIND\tTASK\tATTEMPT\tREPLAYS\tERROR",
				func(d store.DeadLetter) []any {
					task := "-"
					if d.TaskID != nil {
						task = d.TaskID.String()
					}
					return []any{d.ID, d.Reason, d.Kind, task, d.Attempt, d.ReplayCount, clip(d.Error, 60)}
				})
		},
	}
	f.register(cmd, true)
	pg.register(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "only dead letters with this reason (max_attempts, permanent, invalid_args, unknown_kind…)")
	cmd.Flags().StringVar(&kind, "kind", "", "only dead letters of this kind")
	cmd.Flags().StringVar(&state, "state", "", "pending (neither replayed nor discarded), replayed, discarded or all (default: all but the discarded)")
	return cmd
}

func newDLQDiscardCmd() *cobra.Command {
	f := &clientFlags{}
	return idCommand(f, "dead letter", "discard ID",
		"Discard a dead letter: kept, out of the default list and the count of those waiting (admin)",
		func(cmd *cobra.Command, c *client.Client, ws, id uuid.UUID) error {
			d, err := c.DiscardDeadLetter(cmd.Context(), ws, id)
			if err != nil {
				return err
			}
			return f.result(d, "%s discarded\n", d.ID)
		})
}

func newDLQShowCmd() *cobra.Command {
	f := &clientFlags{}
	cmd := idCommand(f, "dead letter", "show ID",
		"Show a dead letter: reason, last error, and the original message",
		func(cmd *cobra.Command, c *client.Client, ws, id uuid.UUID) error {
			d, err := c.GetDeadLetter(cmd.Context(), ws, id)
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(d)
			}
			task := "-"
			if d.TaskID != nil {
				task = d.TaskID.String()
			}
			fmt.Printf("id         %s\nreason     %s\nkind       %s\ntask       %s\nattempt    %d\ncreated    %s\nreplays    %d\nsubject    %s\nerror      %s\nmessage    %s\n",
				d.ID, d.Reason, d.Kind, task, d.Attempt, d.CreatedAt.Local().Format(time.RFC3339), d.ReplayCount, d.Subject, d.Error, printable(d.Payload))
			return nil
		})
	return cmd
}

func newDLQReplayCmd() *cobra.Command {
	f := &clientFlags{}
	var fresh bool
	cmd := idCommand(f, "dead letter", "replay ID",
		"Run a dead letter's task again (a new generation; keeps its checkpoint unless --fresh)",
		func(cmd *cobra.Command, c *client.Client, ws, id uuid.UUID) error {
			res, err := c.ReplayDeadLetter(cmd.Context(), ws, id, fresh)
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(res)
			}
			if res.TaskID != nil {
				fmt.Printf("task %s queued again (generation %d)\n", res.TaskID, res.Generation)
			} else {
				fmt.Println("message published again")
			}
			return nil
		})
	cmd.Flags().BoolVar(&fresh, "fresh", false, "drop the task's checkpoint: start from the beginning")
	return cmd
}

func printTask(t store.Task) {
	fmt.Printf("status     %s\nkind       %s\nattempt    %d of %d\nprogress   %.0f%%\ncheckpoint %d\n", t.Status, t.Kind,
		t.Attempt, t.MaxAttempts, t.Progress*100, t.CheckpointSeq)
	if len(t.Result) > 0 && string(t.Result) != "null" {
		fmt.Printf("result     %s\n", t.Result)
	}
	if t.LastError != nil {
		fmt.Printf("last error %s\n", *t.LastError)
	}
}

func parseID(what, s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, fmt.Errorf("%s id %q is not a UUID", what, s)
	}
	return id, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func clip(s string, n int) string {
	s = oneLine(s)
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

func printable(b []byte) string {
	if json.Valid(b) {
		return string(b)
	}
	return fmt.Sprintf("%q", b)
}

// pageFlags are the paging settings of list commands.
type pageFlags struct {
	cursor string
	limit  int
}

func (p *pageFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&p.cursor, "cursor", "", "continue after this page")
	cmd.Flags().IntVar(&p.limit, "limit", 50, "entries per page (1…500)")
}

func (p *pageFlags) validate() error {
	if p.limit < 1 || p.limit > 500 {
		return fmt.Errorf("%s: must be 1…500", setting("limit"))
	}
	return nil
}

func newDLQSummaryCmd() *cobra.Command {
	f := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "summary",
		Short: "Dead letters by reason and kind: how many, how many replayed, oldest and newest",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ws, err := f.workspaceClient()
			if err != nil {
				return err
			}
			groups, err := c.DeadLetterSummary(cmd.Context(), ws)
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printList(groups, "")
			}
			if len(groups) == 0 {
				fmt.Println("no dead letters")
				return nil
			}
			tb := newTable(os.Stdout, "REASON\tKIND\tCOUNT\tREPLAYED\tOLDEST\tNEWEST")
			for _, g := range groups {
				tb.row(g.Reason, g.Kind, g.Count, g.Replayed, g.Oldest.Local().Format(time.DateTime), g.Newest.Local().Format(time.DateTime))
			}
			return tb.flush()
		},
	}
	f.register(cmd, true)
	return cmd
}

// publishOnPeer publishes a task on a connected instance.
func publishOnPeer(ctx context.Context, c *client.Client, ws string, f *clientFlags, instance, peerWS string, req mosaictype.PublishRequest, wait bool) error {
	switch {
	case wait:
		return fmt.Errorf("%s: a task on another instance is followed there (mosaic tasks list --federated)", setting("wait"))
	case len(req.Credentials) > 0:
		return fmt.Errorf("%s: %v", setting("credential"), federation.ErrCredentials)
	case req.RunAt != nil || req.Delay != "" || len(req.Metadata) > 0:
		return fmt.Errorf("%s takes kind, args, priority, max attempts, timeout and idempotency key only", setting("instance"))
	}
	res, err := c.PublishToPeer(ctx, ws, mosaictype.PeerPublishRequest{Instance: instance, Workspace: peerWS, PublishParams: federation.PublishParams{
		Kind: req.Kind, Args: req.Args, Priority: req.Priority, MaxAttempts: req.MaxAttempts, Timeout: req.Timeout, IdempotencyKey: req.IdempotencyKey}})
	if err != nil {
		return err
	}
	if f.output == "json" {
		return printJSON(res)
	}
	fmt.Printf("%s  (on %s, workspace %s: %s)\n", res.ID, res.Instance, res.Workspace, res.Status)
	return nil
}
