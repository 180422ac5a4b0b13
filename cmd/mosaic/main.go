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
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mosaicstack/mosaic/mosaictype"
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
			os.Exit(exitUsage)
		}
		code := exitCode(err)
		msg := oneLine(err.Error())
		if code == exitUnreachable && strings.Contains(msg, "cannot reach the Mosaic server") {
			msg += " (is `mosaic dev` running? --server / MOSAIC_SERVER)"
		}
		fmt.Fprintln(os.Stderr, "mosaic:", msg)
		os.Exit(code)
	}
}

// Exit codes (README, "The CLI"): distinct for what a script handles differently.
const (
	exitFailure     = 1 // anything else: the server refused the request, a local error
	exitUsage       = 2 // a usage error: unknown command or flag, a bad or missing value
	exitUnreachable = 3 // the server (or PostgreSQL, NATS) could not be reached
	exitAuth        = 4 // no key or token, or the server refused it (401) or what it asked (403)
	exitTaskFailed  = 5 // publish --wait: the task ended unsuccessfully
)

// usageError marks an error in how the command was called.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// authError marks a missing or malformed key or token.
type authError struct{ error }

func (e authError) Unwrap() error { return e.error }

// exitCode is the exit code for err.
func exitCode(err error) int {
	var usage usageError
	var auth authError
	var apiErr *mosaictype.Error
	var netErr *net.OpError
	switch {
	case errors.As(err, &usage), strings.HasPrefix(err.Error(), "required flag(s)"):
		return exitUsage
	case errors.As(err, &auth), errors.As(err, &apiErr) && (apiErr.Code == mosaictype.CodeUnauthenticated || apiErr.Code == mosaictype.CodeForbidden):
		return exitAuth
	case errors.As(err, &netErr), errors.Is(err, syscall.ECONNREFUSED):
		return exitUnreachable
	default:
		return exitFailure
	}
}

// exitError ends the process with a code of its own (exitTaskFailed for publish --wait of a
// failed task).
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
	root.AddCommand(newDevCmd(), newWorkerCmd(), newMigrateCmd(), newWorkspacesCmd(), newOperatorsCmd(), newPublishCmd(), newTasksCmd(), newSchedulesCmd(), newDLQCmd(), newCredentialsCmd(), newKnowledgeCmd(), newAgentsCmd(), newConsumersCmd(), newTopCmd(), newPoolsCmd(), newFederationCmd(), newEventsCmd(), newNATSCmd(), newVersionCmd())
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	for _, c := range root.Commands() {
		refuseUnknownSubcommands(c)
	}
	markArgErrors(root)
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

// markArgErrors makes a wrong number or kind of arguments a usage error, in every command.
func markArgErrors(cmd *cobra.Command) {
	if args := cmd.Args; args != nil {
		cmd.Args = func(c *cobra.Command, a []string) error {
			if err := args(c, a); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	for _, c := range cmd.Commands() {
		markArgErrors(c)
	}
}

// bindEnv sets flags left unset from their MOSAIC_* variables (MOSAIC_DATA_DIR for --data-dir),
// as viper users expect: every setting of the server's own commands (dev, worker, migrate), and
// the connection and global settings of the others (clientSettings). A command's own options
// (--status, --kind, …) read no variable, so a variable left in the environment never filters a
// list or fills in a publish.
func bindEnv(cmd *cobra.Command) error {
	var errs []error
	server := serverCommands[topCommand(cmd)]
	visit := func(f *pflag.Flag) {
		if f.Changed || !server && !clientSettings[f.Name] {
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
	if err := errors.Join(errs...); err != nil {
		return usageError{err}
	}
	return nil
}

// serverCommands are the commands whose every flag is a setting of the running system.
var serverCommands = map[string]bool{"dev": true, "worker": true, "migrate": true}

// clientSettings are the flags every other command reads from MOSAIC_* variables too.
var clientSettings = map[string]bool{"server": true, "data-dir": true, "output": true, "workspace": true,
	"log-level": true, "log-format": true}

// topCommand is the name of cmd's command below the root (publish for mosaic publish, tasks for
// mosaic tasks list).
func topCommand(cmd *cobra.Command) string {
	for cmd.HasParent() && cmd.Parent().HasParent() {
		cmd = cmd.Parent()
	}
	return cmd.Name()
}

func envName(flag string) string {
	return "MOSAIC_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// setting names a flag with its variable, for error messages.
func setting(flag string) string { return "--" + flag + " (" + envName(flag) + ")" }
