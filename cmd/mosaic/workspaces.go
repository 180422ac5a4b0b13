package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

func newWorkspacesCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "workspaces", Short: "Create and list workspaces (operator: admin token)"}
	cmd.AddCommand(newWorkspacesCreateCmd(), newWorkspacesListCmd(), newWorkspacesLimitCmd(), newWorkspacesRetentionCmd(), newWorkspacePauseCmd(true), newWorkspacePauseCmd(false))
	return cmd
}

func newWorkspacesCreateCmd() *cobra.Command {
	f := &clientFlags{}
	var ownerName, ownerEmail string
	var save bool
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a workspace; prints its id and its owner's API key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := store.ValidateWorkspaceName(args[0]); err != nil {
				return err
			}
			c, err := f.adminClient()
			if err != nil {
				return err
			}
			w, err := c.CreateWorkspace(cmd.Context(), mosaictype.CreateWorkspaceRequest{Name: args[0], OwnerName: ownerName, OwnerEmail: ownerEmail})
			if err != nil {
				return err
			}
			saved := ""
			if save {
				saved = saveDefaultKey(f.dataDir, w.APIKey)
			}
			if f.output == "json" {
				return printJSON(map[string]any{"id": w.ID, "name": w.Name, "api_key": w.APIKey})
			}
			fmt.Printf("workspace  %s\nname       %s\napi key    %s\n", w.ID, w.Name, w.APIKey)
			fmt.Fprintf(os.Stderr, "The API key is shown this once; use it as MOSAIC_API_KEY.%s\n", saved)
			return nil
		},
	}
	f.register(cmd, false)
	cmd.Flags().StringVar(&ownerName, "owner-name", "", "name of the workspace's first member (default owner)")
	cmd.Flags().StringVar(&ownerEmail, "owner-email", "", "email of the workspace's first member")
	cmd.Flags().BoolVar(&save, "save", true, "save the key as the CLI's default in --data-dir/api.key when there is none yet")
	return cmd
}

// saveDefaultKey keeps the first workspace's key as the CLI's default, so that a newcomer can
// publish without exporting anything. An existing default is never replaced.
func saveDefaultKey(dataDir, key string) string {
	path := filepath.Join(dataDir, "api.key")
	if _, err := os.Stat(dataDir); err != nil {
		return ""
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, os.ErrExist) || err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.WriteString(key + "\n"); err != nil {
		return ""
	}
	return " It is also saved as the CLI's default key in " + path + "."
}

func newWorkspacesListCmd() *cobra.Command {
	f := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List workspaces",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.adminClient()
			if err != nil {
				return err
			}
			list, err := c.ListWorkspaces(cmd.Context())
			if err != nil {
				return err
			}
			return printTable(f.output, list, "ID\tNAME\tCREATED", func(w store.Workspace) []any {
				return []any{w.ID, w.Name, w.CreatedAt.Format("2006-01-02 15:04:05")}
			})
		},
	}
	f.register(cmd, false)
	return cmd
}

func newWorkspacesLimitCmd() *cobra.Command {
	f := &clientFlags{}
	var maxConc int
	cmd := &cobra.Command{
		Use:   "limit WORKSPACE_ID --max-concurrency N",
		Short: "Cap how many tasks of a workspace run at once, across all workers (0: no cap)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.workspace = args[0]
			c, ws, err := f.workspaceClient()
			if err != nil {
				return err
			}
			if maxConc < 0 {
				return fmt.Errorf("%s: must be 0 (no cap) or more", setting("max-concurrency"))
			}
			if err := c.SetLimits(cmd.Context(), ws, mosaictype.Limits{MaxConcurrency: maxConc}); err != nil {
				return err
			}
			fmt.Printf("workspace %s: max concurrency %d\n", ws, maxConc)
			return nil
		},
	}
	f.register(cmd, false)
	cmd.Flags().IntVar(&maxConc, "max-concurrency", 0, "the cap (0: none)")
	_ = cmd.MarkFlagRequired("max-concurrency")
	return cmd
}

func newWorkspacesRetentionCmd() *cobra.Command {
	f := &clientFlags{}
	var set mosaictype.RetentionSettings
	cmd := &cobra.Command{
		Use:   "retention WORKSPACE_ID [--succeeded D] [--cancelled D] [--dead D] [--dead-letters D]",
		Short: "Show or set how long a workspace keeps finished tasks and dealt-with dead letters",
		Long: `Without flags, prints the workspace's own retention settings and what holds (its settings over
the server's --retain-* defaults). Each flag sets one class: a duration such as 48h or 90m, 0s to
keep that class for good, or "default" to return it to the server's default (setting takes the
admin token). The cleaner deletes, in small batches, succeeded, cancelled and dead tasks (with
their audit trail) that finished longer ago than their class says, and dead letters replayed or
discarded longer ago; a dead letter that waits is never deleted, nor the dead task it belongs to.`,
		Example: `  mosaic workspaces retention 01a2226a-57f6-791f-8b63-585890e3a89f --succeeded 72h --dead 0s`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.workspace = args[0]
			fl := cmd.Flags()
			changed := fl.Changed("succeeded") || fl.Changed("cancelled") || fl.Changed("dead") || fl.Changed("dead-letters")
			c, ws, err := f.workspaceClient()
			if err != nil {
				return err
			}
			ret, err := c.Retention(cmd.Context(), ws)
			if err != nil {
				return err
			}
			if changed {
				next := ret.Workspace
				for _, v := range []struct {
					flag  string
					value string
					to    *string
				}{{"succeeded", set.Succeeded, &next.Succeeded}, {"cancelled", set.Cancelled, &next.Cancelled},
					{"dead", set.Dead, &next.Dead}, {"dead-letters", set.DeadLetters, &next.DeadLetters}} {
					if !fl.Changed(v.flag) {
						continue
					}
					if v.value == "default" {
						*v.to = ""
						continue
					}
					if _, err := time.ParseDuration(v.value); err != nil {
						return usageError{fmt.Errorf("%s: %q is not a duration such as 48h, 0s (for good) or default", setting(v.flag), v.value)}
					}
					*v.to = v.value
				}
				admin, err := f.adminClient()
				if err != nil {
					return err
				}
				if ret, err = admin.SetRetention(cmd.Context(), ws, next); err != nil {
					return err
				}
			}
			return f.result(ret, "workspace %s\n  own settings: %s\n  what holds:   %s\n", ws, ret.Workspace, ret.Effective)
		},
	}
	f.register(cmd, false)
	fl := cmd.Flags()
	fl.StringVar(&set.Succeeded, "succeeded", "", "keep succeeded tasks this long after they finish (0s: for good; default: the server's)")
	fl.StringVar(&set.Cancelled, "cancelled", "", "keep cancelled tasks this long")
	fl.StringVar(&set.Dead, "dead", "", "keep dead tasks this long (one whose dead letter waits stays regardless)")
	fl.StringVar(&set.DeadLetters, "dead-letters", "", "keep replayed or discarded dead letters this long")
	return cmd
}
