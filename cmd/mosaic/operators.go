package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/mosaicstack/mosaic/store"
)

// newOperatorsCmd: named operator keys, made and revoked with the admin token. An operator uses
// theirs as MOSAIC_ADMIN_TOKEN; what they do is audited as operator:<name>.
func newOperatorsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "operators", Short: "Named operator keys: the admin token's power under a name, audited as operator:<name> (admin token)"}
	cmd.AddCommand(newOperatorsCreateCmd(), newOperatorsListCmd(), newOperatorsRevokeCmd())
	return cmd
}

func newOperatorsCreateCmd() *cobra.Command {
	f := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Issue a key for an operator; prints it this once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := store.ValidateOperatorName(args[0]); err != nil {
				return usageError{err}
			}
			c, err := f.adminClient()
			if err != nil {
				return err
			}
			k, err := c.CreateOperatorKey(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(k)
			}
			fmt.Printf("operator  %s\nid        %s\nkey       %s\n", k.Name, k.ID, k.Key)
			fmt.Fprintln(os.Stderr, "The key is shown this once. The operator uses it as MOSAIC_ADMIN_TOKEN (or signs in to the console with it); what they do is recorded as operator:"+k.Name+".")
			return nil
		},
	}
	f.register(cmd, false)
	return cmd
}

func newOperatorsListCmd() *cobra.Command {
	f := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List operator keys, revoked ones included",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.adminClient()
			if err != nil {
				return err
			}
			keys, err := c.ListOperatorKeys(cmd.Context())
			if err != nil {
				return err
			}
			return printTable(f.output, keys, "ID\tNAME\tCREATED\tBY\tREVOKED", func(k store.OperatorKey) []any {
				revoked := ""
				if k.RevokedAt != nil {
					revoked = k.RevokedAt.Local().Format("2006-01-02 15:04:05") + " by " + k.RevokedBy
				}
				return []any{k.ID, k.Name, k.CreatedAt.Local().Format("2006-01-02 15:04:05"), k.CreatedBy, revoked}
			})
		},
	}
	f.register(cmd, false)
	return cmd
}

func newOperatorsRevokeCmd() *cobra.Command {
	f := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "revoke NAME|ID",
		Short: "Revoke an operator's key at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.adminClient()
			if err != nil {
				return err
			}
			k, err := c.RevokeOperatorKey(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return f.result(k, "revoked the key of operator %s (%s)\n", k.Name, k.ID)
		},
	}
	f.register(cmd, false)
	return cmd
}
