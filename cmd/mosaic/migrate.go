package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mosaicstack/mosaic/store"
)

func newMigrateCmd() *cobra.Command {
	var dbURL, dataDir, output string
	cmd := &cobra.Command{
		Use:   "migrate up|down|status",
		Short: "Apply, roll back (one step) or list the database migrations",
		Long: `Apply, roll back (one step) or list the embedded migrations, as the schema owner. The database is
--database-url (MOSAIC_DATABASE_URL), else that of a running ` + "`mosaic dev`" + ` on --data-dir.`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"up", "down", "status"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "up" && args[0] != "down" && args[0] != "status" {
				return fmt.Errorf("migrate: %q is not up, down or status", args[0])
			}
			if output != "text" && output != "json" {
				return usageError{fmt.Errorf("%s: %q is not text or json", setting("output"), output)}
			}
			if dbURL == "" {
				var info devInfo
				b, err := os.ReadFile(filepath.Join(dataDir, "dev.json"))
				if err != nil || json.Unmarshal(b, &info) != nil || info.DatabaseURL == "" {
					return errors.New("no database: set " + setting("database-url") + ", or run `mosaic dev` on " + setting("data-dir"))
				}
				dbURL = info.DatabaseURL
			}
			m, err := store.NewMigrator(cmd.Context(), dbURL)
			if err != nil {
				return err
			}
			defer m.Close()
			switch args[0] {
			case "up":
				v, err := m.Up(cmd.Context())
				if err != nil {
					return err
				}
				return report(output, "applied", v)
			case "down":
				v, err := m.Down(cmd.Context())
				if err != nil {
					return err
				}
				return report(output, "rolled back", v)
			}
			st, err := m.Status(cmd.Context())
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(st)
			}
			for _, s := range st {
				state := "pending"
				if s.Applied {
					state = "applied"
				}
				fmt.Printf("%05d  %-8s %s\n", s.Version, state, s.Name)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dbURL, "database-url", "", "PostgreSQL URL of the schema owner")
	cmd.Flags().StringVar(&dataDir, "data-dir", ".mosaic", "data directory of a running mosaic dev")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

func report(output, what string, versions []int64) error {
	if output == "json" {
		return printJSON(map[string]any{what: versions})
	}
	if len(versions) == 0 {
		fmt.Println("nothing to do")
	}
	for _, v := range versions {
		fmt.Printf("%s %05d\n", what, v)
	}
	return nil
}
