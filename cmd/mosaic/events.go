package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mosaicstack/mosaic/api/client"
	"github.com/mosaicstack/mosaic/federation"
)

func newEventsCmd() *cobra.Command {
	f := &clientFlags{}
	var fed bool
	var duration time.Duration
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Follow the workspace's task events as they happen (with --federated, the connected instances' too)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if duration < 0 {
				return fmt.Errorf("%s: %s is negative", setting("for"), duration)
			}
			c, ws, err := f.workspaceClient()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if duration > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, duration)
				defer cancel()
			}
			here := "here"
			if id, err := c.FederationIdentity(ctx); err == nil {
				here = id.Name
			}
			return c.StreamEvents(ctx, ws.String(), fed, func(ev client.Event) error {
				if ev.Type == ":" {
					if f.output != "json" && strings.HasPrefix(ev.Data, "instance ") {
						fmt.Println(ev.Data)
					}
					return nil
				}
				var re federation.RemoteEvent
				if err := json.Unmarshal([]byte(ev.Data), &re); err != nil {
					return nil // not a task event
				}
				if re.Instance == "" {
					re.Instance, re.Workspace = here, "-"
				}
				if f.output == "json" {
					return printJSON(re)
				}
				line := fmt.Sprintf("%s  %-10s %-12s %-16s %s  %s", re.At.Local().Format("15:04:05"), re.Instance, re.Workspace, ev.Type, re.TaskID, re.Kind)
				if re.Error != "" {
					line += "  " + re.Error
				}
				fmt.Println(line)
				return nil
			})
		},
	}
	f.register(cmd, true)
	cmd.Flags().BoolVar(&fed, "federated", false, "also follow the connected instances' task events (where they grant events.subscribe)")
	cmd.Flags().DurationVar(&duration, "for", 0, "stop after this long (default: until interrupted)")
	return cmd
}
