package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/mosaicstack/mosaic/api/client"
	"github.com/mosaicstack/mosaic/store"
)

// clientFlags are the settings of CLI commands that call a running server.
type clientFlags struct {
	server    string
	dataDir   string
	output    string
	workspace string
}

const defaultServer = "http://127.0.0.1:8080"

func (f *clientFlags) register(cmd *cobra.Command, withWorkspace bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.server, "server", "", "URL of the Mosaic server (default: the running mosaic dev of --data-dir, else "+defaultServer+")")
	fl.StringVar(&f.dataDir, "data-dir", ".mosaic", "data directory of a local mosaic dev (for its address, admin token and default API key)")
	fl.StringVarP(&f.output, "output", "o", "text", "text or json")
	if withWorkspace {
		fl.StringVar(&f.workspace, "workspace", "", "workspace id (default: the workspace of the API key)")
	}
}

// result prints what a one-record command did: v as JSON with --output json, else the line.
func (f *clientFlags) result(v any, format string, args ...any) error {
	if f.output == "json" {
		return printJSON(v)
	}
	fmt.Printf(format, args...)
	return nil
}

func (f *clientFlags) validate() error {
	if f.output != "text" && f.output != "json" {
		return usageError{fmt.Errorf("%s: %q is not text or json", setting("output"), f.output)}
	}
	return nil
}

func (f *clientFlags) serverURL() string {
	if f.server != "" {
		return f.server
	}
	var info devInfo
	if b, err := os.ReadFile(filepath.Join(f.dataDir, "dev.json")); err == nil && json.Unmarshal(b, &info) == nil && info.Server != "" {
		return info.Server
	}
	return defaultServer
}

// adminClient authenticates with MOSAIC_ADMIN_TOKEN, else the admin token of --data-dir.
func (f *clientFlags) adminClient() (*client.Client, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	token := os.Getenv("MOSAIC_ADMIN_TOKEN")
	if token == "" {
		b, err := os.ReadFile(filepath.Join(f.dataDir, "admin.token"))
		if err != nil {
			return nil, authError{fmt.Errorf("no admin token: set MOSAIC_ADMIN_TOKEN, or point %s at the data directory of `mosaic dev`", setting("data-dir"))}
		}
		token = strings.TrimSpace(string(b))
	}
	return client.New(f.serverURL(), token)
}

// workspaceClient authenticates with MOSAIC_API_KEY, else the default key saved in --data-dir,
// else the admin token; it returns the workspace to act in (--workspace, else the key's).
func (f *clientFlags) workspaceClient() (*client.Client, uuid.UUID, error) {
	if err := f.validate(); err != nil {
		return nil, uuid.Nil, err
	}
	ws, err := f.workspaceFlag()
	if err != nil {
		return nil, uuid.Nil, err
	}
	key := os.Getenv("MOSAIC_API_KEY")
	if key == "" && os.Getenv("MOSAIC_ADMIN_TOKEN") == "" {
		key = f.savedAPIKey()
	}
	if key != "" {
		keyWS, ok := store.APIKeyWorkspace(key)
		if !ok {
			return nil, uuid.Nil, authError{errors.New("MOSAIC_API_KEY is not a Mosaic API key (mosk_…)")}
		}
		if ws == uuid.Nil {
			ws = keyWS
		}
		c, err := client.New(f.serverURL(), key)
		return c, ws, err
	}
	if ws == uuid.Nil {
		return nil, uuid.Nil, authError{fmt.Errorf("no API key: set MOSAIC_API_KEY (or create a workspace with `mosaic workspaces create`), or give %s with the admin token", setting("workspace"))}
	}
	c, err := f.adminClient()
	return c, ws, err
}

// workspaceFlag is --workspace, or uuid.Nil when it is not given.
func (f *clientFlags) workspaceFlag() (uuid.UUID, error) {
	if f.workspace == "" {
		return uuid.Nil, nil
	}
	id, err := uuid.Parse(f.workspace)
	if err != nil {
		return uuid.Nil, fmt.Errorf("%s: %q is not a workspace id (UUID)", setting("workspace"), f.workspace)
	}
	return id, nil
}

// savedAPIKey is the CLI's default API key (<data-dir>/api.key), or "".
func (f *clientFlags) savedAPIKey() string {
	b, err := os.ReadFile(filepath.Join(f.dataDir, "api.key"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// defaultWorkspace is --workspace, else the workspace of the CLI's default API key.
func (f *clientFlags) defaultWorkspace() (uuid.UUID, error) {
	if ws, err := f.workspaceFlag(); err != nil || ws != uuid.Nil {
		return ws, err
	}
	key := os.Getenv("MOSAIC_API_KEY")
	if key == "" {
		key = f.savedAPIKey()
	}
	if ws, ok := store.APIKeyWorkspace(key); ok {
		return ws, nil
	}
	return uuid.Nil, fmt.Errorf("give %s", setting("workspace"))
}

// printList prints a list as every list command prints one with --output json: {"items": [...],
// "next": what --cursor (or --offset) takes for the next page, or null}, and beside them any
// extras given as name, value pairs (a federated list's instances, a search's mode).
func printList[T any](items []T, next string, extras ...any) error {
	if items == nil {
		items = []T{}
	}
	out := map[string]any{"items": items, "next": nil}
	if next != "" {
		out["next"] = next
	}
	for i := 0; i+1 < len(extras); i += 2 {
		out[extras[i].(string)] = extras[i+1]
	}
	return printJSON(out)
}

// printTable prints a list command's result, in the shape every list prints: with --output json
// as printList does; otherwise a table, header and then the cells of row(item) for each item.
func printTable[T any](output string, items []T, header string, row func(T) []any) error {
	return printPage(output, items, "", "", header, row)
}

// printPage is printTable for a page of a longer list: next is what flag (--cursor, --offset)
// takes for the page after it ("": this is the last), said on stderr below the table.
func printPage[T any](output string, items []T, next, flag, header string, row func(T) []any) error {
	if output == "json" {
		return printList(items, next)
	}
	t := newTable(os.Stdout, header)
	for _, it := range items {
		t.row(row(it)...)
	}
	if err := t.flush(); err != nil {
		return err
	}
	if next != "" {
		fmt.Fprintf(os.Stderr, "more: %s %s\n", flag, next)
	}
	return nil
}

// table is the CLI's one table shape: columns two spaces apart, a header of capitals.
type table struct{ tw *tabwriter.Writer }

// newTable starts a table on w with header, its column names tab-separated.
func newTable(w io.Writer, header string) *table {
	t := &table{tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	fmt.Fprintln(t.tw, header)
	return t
}

// row adds a row: each cell printed as fmt.Print prints it.
func (t *table) row(cells ...any) {
	for i, c := range cells {
		if i > 0 {
			fmt.Fprint(t.tw, "\t")
		}
		fmt.Fprint(t.tw, c)
	}
	fmt.Fprintln(t.tw)
}

func (t *table) flush() error { return t.tw.Flush() }

// nextOffset is an offset page's next as printList takes it.
func nextOffset(n *int) string {
	if n == nil {
		return ""
	}
	return strconv.Itoa(*n)
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// idCommand builds a `VERB ID` command on the workspace API: it parses the id
// (naming noun in the error), resolves the client and the workspace, registers
// the client flags, and hands the rest to run.
func idCommand(f *clientFlags, noun, use, short string,
	run func(cmd *cobra.Command, c *client.Client, ws, id uuid.UUID) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(noun, args[0])
			if err != nil {
				return err
			}
			c, ws, err := f.workspaceClient()
			if err != nil {
				return err
			}
			return run(cmd, c, ws, id)
		},
	}
	f.register(cmd, true)
	return cmd
}
