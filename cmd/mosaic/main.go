// Command mosaic is Mosaic's one binary: the development system (`mosaic dev`), worker processes
// (`mosaic worker`), migrations, and the CLI that talks to a running server's HTTP API.
//
// Every flag can also be set by an environment variable: --data-dir by MOSAIC_DATA_DIR, --nats-port
// by MOSAIC_NATS_PORT, and so on (MOSAIC_ + the flag's name in upper case, '-' as '_'). A flag on
// the command line wins over the variable.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	if err := root.ExecuteContext(ctx); err != nil {
		var exit *exitError
		if errors.As(err, &exit) {
			if exit.msg != "" {
				fmt.Fprintln(os.Stderr, "mosaic:", exit.msg)
			}
			os.Exit(exit.code)
		}
		if strings.HasPrefix(err.Error(), "unknown command") {
			// Cobra's and refuseUnknownSubcommands': the suggestions on lines of their own.
			fmt.Fprintln(os.Stderr, "mosaic:", strings.TrimSpace(err.Error()))
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "mosaic:", oneLine(err.Error()))
		os.Exit(1)
	}
}

// exitError ends the process with a code other than 1 (e.g. `publish --wait` of a failed task).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "mosaic",
		Short:         "Durable, multi-tenant work on NATS JetStream and PostgreSQL",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       currentVersion().String(),
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return bindEnv(cmd)
		},
	}
	root.AddCommand(newDevCmd(), newWorkerCmd(), newMigrateCmd(), newWorkspacesCmd(), newPublishCmd(), newTasksCmd(), newDLQCmd(), newCredentialsCmd(), newKnowledgeCmd(), newAgentsCmd(), newConsumersCmd(), newTopCmd(), newPoolsCmd(), newFederationCmd(), newEventsCmd(), newNATSCmd(), newVersionCmd())
	root.SetVersionTemplate("{{.Version}}\n")
	for _, c := range root.Commands() {
		refuseUnknownSubcommands(c)
	}
	return root
}

// refuseUnknownSubcommands makes a command group (mosaic tasks, mosaic credentials, …) refuse a
// subcommand it does not have, with the closest ones on lines of their own, and exit non-zero:
// cobra checks that only at the root, and below it prints the group's help and exits 0.
func refuseUnknownSubcommands(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		refuseUnknownSubcommands(c)
	}
	if !cmd.HasSubCommands() || cmd.Runnable() {
		return
	}
	cmd.Args = cobra.ArbitraryArgs
	cmd.SuggestionsMinimumDistance = 2
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return c.Help()
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
		if near := c.SuggestionsFor(args[0]); len(near) > 0 {
			msg += "\n\nDid you mean this?\n\t" + strings.Join(near, "\n\t")
		}
		return errors.New(msg + "\n\nRun '" + c.CommandPath() + " --help' for its commands.")
	}
}

// bindEnv fills every flag not given on the command line from its MOSAIC_* variable, and names
// the variable when its value is not valid.
func bindEnv(cmd *cobra.Command) error {
	var errs []error
	visit := func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		name := envName(f.Name)
		v, ok := os.LookupEnv(name)
		if !ok {
			return
		}
		if err := f.Value.Set(v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %v", name, v, err))
			return
		}
		f.Changed = true
	}
	cmd.Flags().VisitAll(visit)
	cmd.InheritedFlags().VisitAll(visit)
	return errors.Join(errs...)
}

func envName(flag string) string {
	return "MOSAIC_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// setting names a flag with its variable, for error messages.
func setting(flag string) string { return "--" + flag + " (" + envName(flag) + ")" }
