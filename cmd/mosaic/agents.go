package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/api/client"
	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

func newAgentsCmd() *cobra.Command {
	f := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "agents",
		Short: "The worker processes: state, pools, in-flight tasks, last heartbeat (admin token)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := adminOnly(f)
			if err != nil {
				return err
			}
			list, err := c.Agents(cmd.Context())
			if err != nil {
				return err
			}
			return printTable(f.output, list, "ID\tNAME\tSTATE\tPOOLS\tIN FLIGHT\tHEARTBEAT\tSTARTED", func(a store.Agent) []any {
				return []any{a.ID, a.Name, a.State, strings.Join(a.Pools, ","), a.InFlight,
					time.Since(a.HeartbeatAt).Round(time.Second).String() + " ago", a.StartedAt.Local().Format(time.DateTime)}
			})
		},
	}
	f.register(cmd, false)
	cmd.AddCommand(newAgentsShowCmd(), newAgentsDrainCmd())
	return cmd
}

// resolveAgent finds a live or recent agent by id or by name.
func resolveAgent(cmd *cobra.Command, c *client.Client, ref string) (store.Agent, error) {
	list, err := c.Agents(cmd.Context())
	if err != nil {
		return store.Agent{}, err
	}
	id, _ := uuid.Parse(ref)
	var found []store.Agent
	for _, a := range list {
		if a.ID == id || a.Name == ref && (a.State == store.AgentRunning || a.State == store.AgentSpawning || a.State == store.AgentDraining) {
			found = append(found, a)
		}
	}
	switch len(found) {
	case 0:
		return store.Agent{}, fmt.Errorf("no live agent %q (mosaic agents lists them)", ref)
	case 1:
		return found[0], nil
	}
	return store.Agent{}, fmt.Errorf("%d live agents are called %q: give the id", len(found), ref)
}

func newAgentsShowCmd() *cobra.Command {
	f := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "An agent with its in-flight tasks and its recorded transitions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := adminOnly(f)
			if err != nil {
				return err
			}
			id, err := parseID("agent", args[0])
			if err != nil {
				return err
			}
			a, evs, err := c.AgentEvents(cmd.Context(), id)
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(map[string]any{"agent": a, "events": evs})
			}
			fmt.Printf("%s  %s  %s pid %d  %s\npools %s  concurrency %d  in flight %d  heartbeat every %s, last %s ago\n",
				a.Name, a.State, a.Host, a.PID, a.Version, strings.Join(a.Pools, ","), a.Concurrency, a.InFlight,
				a.HeartbeatInterval, time.Since(a.HeartbeatAt).Round(time.Second))
			var tasks []agents.InFlightTask
			if len(a.Tasks) > 0 && json.Unmarshal(a.Tasks, &tasks) == nil && len(tasks) > 0 {
				tb := newTable(os.Stdout, "\nTASK\tKIND\tPOOL\tWORKSPACE\tRUNNING FOR")
				for _, t := range tasks {
					tb.row(t.TaskID, t.Kind, t.Pool, t.WorkspaceID, time.Since(t.Since).Round(time.Second))
				}
				_ = tb.flush()
				fmt.Println()
			}
			for _, e := range evs {
				fmt.Printf("%s  %-16s %s\n", e.At.Local().Format(time.DateTime), e.Type, e.Detail)
			}
			return nil
		},
	}
	f.register(cmd, false)
	return cmd
}

func newAgentsDrainCmd() *cobra.Command {
	f := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "drain ID|NAME",
		Short: "Ask an agent to take no new work and finish what it runs (a worker then exits)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := adminOnly(f)
			if err != nil {
				return err
			}
			a, err := resolveAgent(cmd, c, args[0])
			if err != nil {
				return err
			}
			if _, err := c.DrainAgent(cmd.Context(), a.ID); err != nil {
				return err
			}
			fmt.Printf("agent %s (%s) asked to drain; it acts on its next heartbeat (every %s)\n", a.Name, a.ID, a.HeartbeatInterval)
			return nil
		},
	}
	f.register(cmd, false)
	return cmd
}

func newPoolsCmd() *cobra.Command {
	f := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "pools",
		Short: "Paused pools; pause and resume a pool's consumers (admin token)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := adminOnly(f)
			if err != nil {
				return err
			}
			list, err := c.PoolPauses(cmd.Context())
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printList(list, "")
			}
			if len(list) == 0 {
				fmt.Println("no pool is paused")
			}
			for _, p := range list {
				fmt.Printf("%s paused until %s by %s\n", p.Pool, p.PausedUntil.Local().Format(time.DateTime), p.PausedBy)
			}
			return nil
		},
	}
	f.register(cmd, false)
	cmd.AddCommand(newPoolPauseCmd(true), newPoolPauseCmd(false))
	return cmd
}

func adminOnly(f *clientFlags) (*client.Client, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	return f.adminClient()
}

func newPoolPauseCmd(pause bool) *cobra.Command {
	f := &clientFlags{}
	var d time.Duration
	use, short := "resume POOL", "Resume a pool's consumers"
	if pause {
		use, short = "pause POOL", "Pause a pool's consumers (JetStream consumer pause): its workers take nothing until resumed"
	}
	cmd := &cobra.Command{
		Use: use, Short: short, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := adminOnly(f)
			if err != nil {
				return err
			}
			var res mosaictype.PoolPauseResponse
			if pause {
				res, err = c.PausePool(cmd.Context(), args[0], d)
			} else {
				res, err = c.ResumePool(cmd.Context(), args[0])
			}
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(res)
			}
			verb := "resumed"
			if pause {
				verb = "paused"
			}
			if len(res.Consumers) == 0 {
				fmt.Printf("pool %s %s (no consumer yet: its workers start %s)\n", res.Pool, verb, verb)
				return nil
			}
			fmt.Printf("pool %s %s: %s\n", res.Pool, verb, strings.Join(res.Consumers, ", "))
			return nil
		},
	}
	f.register(cmd, false)
	if pause {
		cmd.Flags().DurationVar(&d, "for", 0, "pause for this long (default: until resumed)")
	}
	return cmd
}

func newWorkspacePauseCmd(pause bool) *cobra.Command {
	f := &clientFlags{}
	use, short := "resume WORKSPACE_ID", "Resume a paused workspace"
	if pause {
		use, short = "pause WORKSPACE_ID", "Pause a workspace: workers leave its tasks waiting (other workspaces go on)"
	}
	cmd := &cobra.Command{
		Use: use, Short: short, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, err := parseID("workspace", args[0])
			if err != nil {
				return err
			}
			c, err := adminOnly(f)
			if err != nil {
				return err
			}
			if err := c.SetWorkspacePaused(cmd.Context(), ws, pause); err != nil {
				return err
			}
			if pause {
				fmt.Printf("workspace %s paused (workers notice within 5 s)\n", ws)
			} else {
				fmt.Printf("workspace %s resumed\n", ws)
			}
			return nil
		},
	}
	f.register(cmd, false)
	return cmd
}
