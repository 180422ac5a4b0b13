package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mosaicstack/mosaic/api"
	"github.com/mosaicstack/mosaic/store"
)

func newWorkspacesCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "workspaces", Short: "Create and list workspaces (operator: admin token)"}
	cmd.AddCommand(newWorkspacesCreateCmd(), newWorkspacesListCmd(), newWorkspacesLimitCmd(), newWorkspacePauseCmd(true), newWorkspacePauseCmd(false))
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
			w, err := c.CreateWorkspace(cmd.Context(), api.CreateWorkspaceRequest{Name: args[0], OwnerName: ownerName, OwnerEmail: ownerEmail})
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
			if f.output == "json" {
				return printList(list, "")
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tCREATED")
			for _, w := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", w.ID, w.Name, w.CreatedAt.Format("2006-01-02 15:04:05"))
			}
			return tw.Flush()
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
			if err := c.SetLimits(cmd.Context(), ws, api.Limits{MaxConcurrency: maxConc}); err != nil {
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
