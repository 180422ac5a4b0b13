package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mosaicstack/mosaic/api"
)

func newFederationCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "federation", Short: "Federation between Mosaic instances (so far: this instance's identity)"}
	f := &clientFlags{}
	identity := &cobra.Command{
		Use:   "identity",
		Short: "This instance's public identity: id, name, public key (nkeys, Ed25519), capabilities",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.validate(); err != nil {
				return err
			}
			c, err := api.NewClient(f.serverURL(), "")
			if err != nil {
				return err
			}
			id, err := c.FederationIdentity(cmd.Context())
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(id)
			}
			fmt.Printf("id            %s\nname          %s\npublic key    %s\ncapabilities  %s\n", id.ID, id.Name, id.PublicKey, strings.Join(id.Capabilities, ", "))
			return nil
		},
	}
	f.register(identity, false)
	cmd.AddCommand(identity)
	return cmd
}
