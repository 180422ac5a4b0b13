package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
)

func newNATSCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "nats",
		Short: "The embedded NATS server's credentials",
	}
	cmd.AddCommand(newNATSCredentialsCmd())
	return cmd
}

// natsCredentials is what `mosaic nats credentials` prints.
type natsCredentials struct {
	URL         string    `json:"url,omitempty"`
	WorkspaceID uuid.UUID `json:"workspace_id,omitzero"`
	User        string    `json:"user"`
	Password    string    `json:"password"`
	Subjects    string    `json:"subjects"`
}

func newNATSCredentialsCmd() *cobra.Command {
	var dataDir, workspace, output string
	var system bool
	cmd := &cobra.Command{
		Use:   "credentials --workspace WS | --system",
		Short: "Print a workspace publisher's (or Mosaic's own) credentials for the embedded NATS server",
		Long: `The embedded NATS server of ` + "`mosaic dev`" + ` (and of ` + "`mosaic worker`" + ` without --nats-url) lets nobody in
without credentials. Each workspace has a raw-NATS publisher, pub-<workspace>, which may publish that
workspace's tasks (mosaic.tasks.p<1-10>.<workspace>.<kind>) and nothing else: no other workspace, no
credentials, knowledge or events subjects. Its password derives from the secret in --data-dir
(nats-auth.key, readable by its owner only), so this command works on the machine that runs the
server, for any workspace. --system prints Mosaic's own user instead (every subject: keep it to
Mosaic's processes).`,
		Example: `  mosaic nats credentials --workspace 01a2226a-57f6-791f-8b63-585890e3a89f
  nats --server nats://127.0.0.1:4222 --user pub-<workspace> --password <password> \
    pub --jetstream mosaic.tasks.p5.<workspace>.demo.echo '{"kind":"demo.echo","args":{"message":"hi"}}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return usageError{fmt.Errorf("%s: %q is not text or json", setting("output"), output)}
			}
			if system == (workspace != "") {
				return errors.New("give --workspace WS or --system")
			}
			auth, err := loadNATSAuth(dataDir, false)
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("no NATS secret in %s: `mosaic dev` creates it on its first start (%s)", dataDir, setting("data-dir"))
			}
			if err != nil {
				return err
			}
			var c natsCredentials
			if system {
				c.User, c.Password = auth.System()
				c.Subjects = "every subject (Mosaic's own processes)"
			} else {
				ws, err := uuid.Parse(workspace)
				if err != nil || ws == uuid.Nil {
					return fmt.Errorf("%s: %q is not a workspace id", setting("workspace"), workspace)
				}
				c.WorkspaceID = ws
				c.User, c.Password = auth.Publisher(ws)
				c.Subjects = "publish mosaic.tasks.*." + ws.String() + ".>"
			}
			var info devInfo
			if b, err := os.ReadFile(filepath.Join(dataDir, "dev.json")); err == nil && json.Unmarshal(b, &info) == nil {
				c.URL = info.NATSURL
			}
			if output == "json" {
				return printJSON(c)
			}
			fmt.Printf("url       %s\nuser      %s\npassword  %s\nmay       %s\n", orDash(c.URL), c.User, c.Password, c.Subjects)
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", ".mosaic", "data directory of the server (that of mosaic dev)")
	cmd.Flags().StringVar(&workspace, "workspace", "", "workspace whose publisher's credentials to print")
	cmd.Flags().BoolVar(&system, "system", false, "print Mosaic's own user instead")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}
