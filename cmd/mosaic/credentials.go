package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/mosaicstack/mosaic/agents/credrotate"
	"github.com/mosaicstack/mosaic/api/client"
	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

func newCredentialsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "credentials",
		Short: "Store, list, rotate and delete credentials (values are encrypted; only masks are shown)",
	}
	cmd.AddCommand(newCredPutCmd(), newCredListCmd(), newCredGetCmd(), newCredRotateCmd(), newCredDeleteCmd(), newCredAuditCmd(), newRotateKeyCmd())
	return cmd
}

// readValue reads a credential's value from a file or standard input — never from a flag, which
// would show in the process list and the shell's history. One trailing newline is dropped.
func readValue(file string) (string, error) {
	var b []byte
	var err error
	if file != "" {
		b, err = os.ReadFile(file)
	} else {
		if isTerminal(os.Stdin) {
			fmt.Fprintln(os.Stderr, "Enter the value, then Ctrl-D (it is read from standard input; pipe it in to keep it off the screen):")
		}
		b, err = io.ReadAll(io.LimitReader(os.Stdin, 64<<10+1))
	}
	if err != nil {
		return "", err
	}
	b = bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r"))
	if len(b) == 0 {
		return "", fmt.Errorf("the value is empty")
	}
	if len(b) > 64<<10 {
		return "", fmt.Errorf("the value is larger than 64 KiB")
	}
	return string(b), nil
}

func newCredPutCmd() *cobra.Command {
	f := &clientFlags{}
	var req mosaictype.PutCredentialRequest
	var file, expires string
	var meta []string
	cmd := &cobra.Command{
		Use:   "put NAME",
		Short: "Store a credential; the value comes from standard input or --from-file",
		Example: `  printf %s "$GITHUB_TOKEN" | mosaic credentials put github --type ACCESS_TOKEN --provider github
  mosaic credentials put db-password --scope WORKSPACE --type PASSWORD --provider postgres \
      --metadata dsn=postgres://app@db:5432/app --rotation-policy "every 30d" --from-file pw.txt`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Name = args[0]
			if req.Type != "" && !store.ValidCredentialType(req.Type) {
				return fmt.Errorf("%s: %q is not API_KEY, OAUTH_TOKEN, ACCESS_TOKEN, SECRET, PASSWORD or CUSTOM", setting("type"), req.Type)
			}
			if req.Scope != "" && !store.ValidScope(req.Scope) {
				return fmt.Errorf("%s: %q is not USER, WORKSPACE or SYSTEM", setting("scope"), req.Scope)
			}
			if expires != "" {
				t, err := time.Parse(time.RFC3339, expires)
				if err != nil {
					return fmt.Errorf("%s: %q is not an RFC 3339 time", setting("expires-at"), expires)
				}
				req.ExpiresAt = &t
			}
			m, err := parseMeta(meta)
			if err != nil {
				return err
			}
			req.Metadata = m
			c, ws, err := f.workspaceClient()
			if err != nil {
				return err
			}
			if req.Value, err = readValue(file); err != nil {
				return err
			}
			cred, err := c.PutCredential(cmd.Context(), ws, req)
			req.Value = ""
			if err != nil {
				return err
			}
			return printCredential(f, cred)
		},
	}
	f.register(cmd, true)
	fl := cmd.Flags()
	fl.StringVar(&req.Type, "type", "", "API_KEY, OAUTH_TOKEN, ACCESS_TOKEN, SECRET (default), PASSWORD or CUSTOM")
	fl.StringVar(&req.Scope, "scope", "", "USER (default: yours alone), WORKSPACE (admins) or SYSTEM (admin token)")
	fl.StringVar(&req.Provider, "provider", "", "who issued it; for the rotation agent: random, postgres or http")
	fl.StringVar(&expires, "expires-at", "", "expiry (RFC 3339)")
	fl.StringVar(&req.RotationPolicy, "rotation-policy", "", `rotate automatically, e.g. "every 30d"`)
	fl.StringArrayVar(&meta, "metadata", nil, "key=value (repeatable)")
	fl.StringVar(&file, "from-file", "", "read the value from this file instead of standard input")
	return cmd
}

func parseMeta(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s: %q is not key=value", setting("metadata"), kv)
		}
		m[k] = v
	}
	return m, nil
}

func printCredential(f *clientFlags, c mosaictype.Credential) error {
	if f.output == "json" {
		return printJSON(c)
	}
	exp := "-"
	if c.ExpiresAt != nil {
		exp = c.ExpiresAt.Local().Format(time.RFC3339)
	}
	fmt.Printf("id        %s\nname      %s\ntype      %s\nscope     %s\nprovider  %s\nvalue     %s\nversion   %d\nexpires   %s\n",
		c.ID, c.Name, c.Type, c.Scope, c.Provider, c.MaskedValue, c.Version, exp)
	if c.RotationPolicy != nil {
		fmt.Printf("rotation  %s\n", *c.RotationPolicy)
	}
	return nil
}

func newCredListCmd() *cobra.Command {
	f := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the credentials you may see (masked)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ws, err := f.workspaceClient()
			if err != nil {
				return err
			}
			list, err := c.ListCredentials(cmd.Context(), ws)
			if err != nil {
				return err
			}
			return printTable(f.output, list, "ID\tNAME\tTYPE\tSCOPE\tPROVIDER\tVALUE\tVERSION\tLAST USED", func(cr mosaictype.Credential) []any {
				used := "-"
				if cr.LastUsedAt != nil {
					used = cr.LastUsedAt.Local().Format("2006-01-02 15:04")
				}
				return []any{cr.ID, cr.Name, cr.Type, cr.Scope, cr.Provider, cr.MaskedValue, cr.Version, used}
			})
		},
	}
	f.register(cmd, true)
	return cmd
}

func newCredGetCmd() *cobra.Command {
	f := &clientFlags{}
	cmd := idCommand(f, "credential", "get ID",
		"Show a credential (masked: the value is never shown)",
		func(cmd *cobra.Command, c *client.Client, ws, id uuid.UUID) error {
			cred, err := c.GetCredential(cmd.Context(), ws, id)
			if err != nil {
				return err
			}
			return printCredential(f, cred)
		})
	return cmd
}

func newCredRotateCmd() *cobra.Command {
	f := &clientFlags{}
	var file string
	var agent bool
	cmd := idCommand(f, "credential", "rotate ID",
		"Rotate a credential: a new value from standard input or --from-file, or --agent (staged rotation at its provider)",
		func(cmd *cobra.Command, c *client.Client, ws, id uuid.UUID) error {
			req := mosaictype.RotateCredentialRequest{Agent: agent}
			var err error
			if !agent {
				if req.Value, err = readValue(file); err != nil {
					return err
				}
			}
			out, err := c.RotateCredential(cmd.Context(), ws, id, req)
			req.Value = ""
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(out)
			}
			if agent {
				fmt.Printf("rotation task %v queued\n", out["task_id"])
				return nil
			}
			fmt.Printf("credential %s rotated to version %v\n", id, out["version"])
			return nil
		})
	cmd.Flags().StringVar(&file, "from-file", "", "read the new value from this file instead of standard input")
	cmd.Flags().BoolVar(&agent, "agent", false, "let the rotation agent make, set, test and promote a new value at the credential's provider")
	return cmd
}

func newCredDeleteCmd() *cobra.Command {
	f := &clientFlags{}
	cmd := idCommand(f, "credential", "delete ID",
		"Delete a credential (soft: kept for the audit, no longer usable)",
		func(cmd *cobra.Command, c *client.Client, ws, id uuid.UUID) error {
			if err := c.DeleteCredential(cmd.Context(), ws, id); err != nil {
				return err
			}
			fmt.Printf("credential %s deleted\n", id)
			return nil
		})
	return cmd
}

func newCredAuditCmd() *cobra.Command {
	f := &clientFlags{}
	var cred string
	var limit int
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "The credential access log: every decrypt (task, attempt, agent) and every change",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var id uuid.UUID
			if cred != "" {
				var err error
				if id, err = parseID("credential", cred); err != nil {
					return err
				}
			}
			if limit < 1 || limit > 500 {
				return fmt.Errorf("%s: must be 1…500", setting("limit"))
			}
			c, ws, err := f.workspaceClient()
			if err != nil {
				return err
			}
			list, err := c.CredentialAudit(cmd.Context(), ws, id, limit)
			if err != nil {
				return err
			}
			return printTable(f.output, list, "AT\tACTION\tCREDENTIAL\tTASK\tATTEMPT\tAGENT\tPURPOSE", func(a store.Access) []any {
				task, attempt := "-", "-"
				if a.TaskID != nil {
					task = a.TaskID.String()
				}
				if a.Attempt != nil {
					attempt = fmt.Sprint(*a.Attempt)
				}
				return []any{a.At.Local().Format("2006-01-02 15:04:05"), a.Action, a.Name, task, attempt, a.Agent, a.Purpose}
			})
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&cred, "credential", "", "only this credential's entries")
	cmd.Flags().IntVar(&limit, "limit", 100, "entries (1…500)")
	return cmd
}

func newRotateKeyCmd() *cobra.Command {
	f := &clientFlags{}
	var key string
	var batch int
	cmd := &cobra.Command{
		Use:   "rotate-key",
		Short: "Rotate a Transit key and rewrap every stored ciphertext, in every workspace (admin token)",
		Long: `Queue the rotation agent's credentials.rewrap job: rotate the key, rewrap every ciphertext below
the new version in checkpointed batches (each workspace through its RLS door), then raise the key's
min_decryption_version so the old versions decrypt nothing. The job is recorded in --workspace (by
default the CLI's default workspace) and follows like any task: mosaic tasks get ID.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			args := credrotate.RotateKeyArgs{Key: key, BatchSize: batch}
			if err := args.Validate(); err != nil {
				return fmt.Errorf("%s/%s: %v", setting("key"), setting("batch-size"), err)
			}
			if err := f.validate(); err != nil {
				return err
			}
			ws, err := f.defaultWorkspace()
			if err != nil {
				return err
			}
			c, err := f.adminClient()
			if err != nil {
				return err
			}
			out, err := c.RotateKey(cmd.Context(), ws, key, mosaictype.RotateKeyRequest{BatchSize: batch})
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(out)
			}
			fmt.Printf("key rotation task %v queued\n", out["task_id"])
			return nil
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&key, "key", crypto.KeyCredentials, "the key: "+strings.Join(crypto.Keys, ", "))
	cmd.Flags().IntVar(&batch, "batch-size", 100, "ciphertexts per rewrap round (1…1000)")
	return cmd
}
