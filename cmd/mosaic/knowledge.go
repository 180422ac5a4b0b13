package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/mosaicstack/mosaic/agents/knowledge"
	"github.com/mosaicstack/mosaic/agents/knowledge/mdfile"
	"github.com/mosaicstack/mosaic/api/client"
	"github.com/mosaicstack/mosaic/federation"
	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

func newKnowledgeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "knowledge",
		Aliases: []string{"kb"},
		Short:   "The knowledge base: entries with [[links]], versions, search, the graph, import and export",
	}
	cmd.AddCommand(newKBPutCmd(), newKBGetCmd(), newKBListCmd(), newKBSearchCmd(), newKBGraphCmd(), newKBHistoryCmd(),
		newKBDiffCmd(), newKBRestoreCmd(), newKBDeleteCmd(), newKBImportCmd(), newKBExportCmd(), newKBReindexCmd())
	return cmd
}

// kbCommand builds a knowledge command on the workspace API.
func kbCommand(f *clientFlags, use, short string, args cobra.PositionalArgs, run func(cmd *cobra.Command, c *client.Client, ws uuid.UUID, args []string) error) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Args: args,
		RunE: func(cmd *cobra.Command, a []string) error {
			c, ws, err := f.workspaceClient()
			if err != nil {
				return err
			}
			return run(cmd, c, ws, a)
		}}
	f.register(cmd, true)
	return cmd
}

// upsert creates the entry, or edits it when its slug is taken: the CLI's put and import.
func upsert(ctx context.Context, c *client.Client, ws uuid.UUID, in knowledge.EntryInput) (store.Entry, bool, error) {
	if in.Title == nil && in.Slug != "" { // no title: an edit of an existing entry
		slug := in.Slug
		in.Slug = ""
		e, err := c.UpdateEntry(ctx, ws, slug, in)
		return e, false, err
	}
	e, err := c.CreateEntry(ctx, ws, in)
	if !mosaictype.IsCode(err, mosaictype.CodeConflict) || in.Slug == "" {
		return e, err == nil, err
	}
	slug := in.Slug
	in.Slug = ""
	e, err = c.UpdateEntry(ctx, ws, slug, in)
	return e, false, err
}

func newKBPutCmd() *cobra.Command {
	var title, file, status, visibility, message string
	var tags []string
	var ifVersion int
	f := &clientFlags{}
	cmd := kbCommand(f, "put [SLUG]", "Create an entry, or edit it (a new version): body from --file (- for standard input)", cobra.MaximumNArgs(1),
		func(cmd *cobra.Command, c *client.Client, ws uuid.UUID, args []string) error {
			in := knowledge.EntryInput{Message: message, IfVersion: ifVersion}
			if len(args) == 1 {
				in.Slug = args[0]
			}
			fl := cmd.Flags()
			if fl.Changed("title") {
				in.Title = &title
			}
			if fl.Changed("status") {
				in.Status = &status
			}
			if fl.Changed("visibility") {
				in.Visibility = &visibility
			}
			if fl.Changed("tag") {
				in.Tags = &tags
			}
			if file != "" {
				b, err := readBody(file)
				if err != nil {
					return err
				}
				in.Body = &b
			}
			if in.Slug == "" && in.Title == nil {
				return fmt.Errorf("give a SLUG or %s", setting("title"))
			}
			e, created, err := upsert(cmd.Context(), c, ws, in)
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(e)
			}
			verb := "updated"
			if created {
				verb = "created"
			}
			fmt.Printf("%s %s (version %d)\n", verb, e.Slug, e.Version)
			return nil
		})
	fl := cmd.Flags()
	fl.StringVar(&title, "title", "", "title (required to create; the slug comes from it unless given)")
	fl.StringVar(&file, "file", "", "markdown body from this file, or - for standard input")
	fl.StringVar(&status, "status", "", "DRAFT (default), PUBLISHED or ARCHIVED")
	fl.StringVar(&visibility, "visibility", "", "WORKSPACE (default) or PRIVATE (yours alone)")
	fl.StringArrayVar(&tags, "tag", nil, "tag (repeatable; replaces the entry's tags)")
	fl.StringVar(&message, "message", "", "what this edit does (kept with the version)")
	fl.IntVar(&ifVersion, "if-version", 0, "edit only if the entry is still at this version")
	return cmd
}

func readBody(file string) (string, error) {
	var b []byte
	var err error
	if file == "-" {
		b, err = io.ReadAll(io.LimitReader(os.Stdin, store.MaxEntryBody+1))
	} else {
		b, err = os.ReadFile(file)
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", setting("file"), err)
	}
	if len(b) > store.MaxEntryBody {
		return "", fmt.Errorf("%s: the body is larger than %d bytes (1 MiB)", setting("file"), store.MaxEntryBody)
	}
	return string(b), nil
}

func newKBGetCmd() *cobra.Command {
	f := &clientFlags{}
	var instance, peerWS string
	cmd := kbCommand(f, "get SLUG", "Show an entry, its links and its backlinks (with --instance, a connected instance's entry)", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *client.Client, ws uuid.UUID, args []string) error {
			if instance != "" {
				e, err := c.PeerEntry(cmd.Context(), ws.String(), instance, peerWS, args[0])
				if err != nil {
					return err
				}
				if f.output == "json" {
					return printJSON(e)
				}
				fmt.Printf("# %s\non %s, workspace %s · slug %s · %s · version %d · tags %s · updated %s\n\n%s\n", e.Title, instance, e.Workspace,
					e.Slug, e.Status, e.Version, strings.Join(e.Tags, ", "), e.UpdatedAt.Local().Format(time.DateTime), e.Body)
				return nil
			}
			e, err := c.GetEntry(cmd.Context(), ws, args[0])
			if err != nil {
				return err
			}
			links, back, err := c.EntryLinks(cmd.Context(), ws, args[0])
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(map[string]any{"entry": e, "links": links, "backlinks": back})
			}
			fmt.Printf("# %s\nslug %s · %s · %s · version %d · tags %s · created %s · updated %s\n", e.Title, e.Slug, e.Status, e.Visibility,
				e.Version, strings.Join(e.Tags, ", "), e.CreatedAt.Local().Format(time.DateTime), e.UpdatedAt.Local().Format(time.DateTime))
			if len(e.Aliases) > 0 {
				fmt.Printf("aliases %s\n", strings.Join(e.Aliases, ", "))
			}
			if m := bytes.TrimSpace(e.Metadata); len(m) > 0 && string(m) != "{}" {
				fmt.Printf("metadata %s\n", m)
			}
			fmt.Printf("\n%s\n", e.Body)
			for _, l := range links {
				state := "→ " + l.TargetTitle
				if l.TargetID == nil {
					state = "(dangling)"
				}
				fmt.Printf("link      [[%s]] %s\n", l.TargetSlug, state)
			}
			for _, b := range back {
				fmt.Printf("backlink  %s (%s)\n", b.Slug, b.Title)
			}
			return nil
		})
	cmd.Flags().StringVar(&instance, "instance", "", "read the entry on this connected instance (it must grant knowledge.read)")
	cmd.Flags().StringVar(&peerWS, "peer-workspace", "", "with --instance: the peer's workspace (default: the one that grants knowledge.read)")
	return cmd
}

// filterFlags are the search and list filters.
type filterFlags struct {
	tag, status, since, until string
	limit, offset             int
}

func (ff *filterFlags) register(cmd *cobra.Command, limit int) {
	fl := cmd.Flags()
	fl.StringVar(&ff.tag, "tag", "", "only entries with this tag")
	fl.StringVar(&ff.status, "status", "", "only DRAFT, PUBLISHED or ARCHIVED entries")
	fl.StringVar(&ff.since, "since", "", "only entries updated at or after this date (2026-01-31 or RFC 3339)")
	fl.StringVar(&ff.until, "until", "", "only entries updated before this date")
	fl.IntVar(&ff.limit, "limit", limit, "results per page")
	fl.IntVar(&ff.offset, "offset", 0, "results to skip")
}

func (ff *filterFlags) values() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"tag": ff.tag, "status": strings.ToUpper(ff.status), "updated_after": ff.since, "updated_before": ff.until} {
		if v != "" {
			q.Set(k, v)
		}
	}
	q.Set("limit", strconv.Itoa(ff.limit))
	if ff.offset > 0 {
		q.Set("offset", strconv.Itoa(ff.offset))
	}
	return q
}

func newKBListCmd() *cobra.Command {
	ff := &filterFlags{}
	f := &clientFlags{}
	cmd := kbCommand(f, "list", "List entries, most recently updated first", cobra.NoArgs,
		func(cmd *cobra.Command, c *client.Client, ws uuid.UUID, _ []string) error {
			list, err := c.ListEntries(cmd.Context(), ws, ff.values())
			if err != nil {
				return err
			}
			return printPage(f.output, list.Entries, nextOffset(list.NextOffset), "--offset", "SLUG\tTITLE\tSTATUS\tVERSION\tTAGS\tUPDATED",
				func(e store.Entry) []any {
					return []any{e.Slug, e.Title, e.Status, e.Version, strings.Join(e.Tags, ","), e.UpdatedAt.Local().Format(time.DateTime)}
				})
		})
	ff.register(cmd, 50)
	return cmd
}

func newKBSearchCmd() *cobra.Command {
	ff := &filterFlags{}
	var mode string
	var fed bool
	f := &clientFlags{}
	cmd := kbCommand(f, "search QUERY", `Search by words (websearch syntax: "a phrase", -exclude, or), by meaning, or both`, cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *client.Client, ws uuid.UUID, args []string) error {
			q := ff.values()
			q.Set("q", args[0])
			q.Set("mode", mode)
			if fed {
				if ff.offset > 0 {
					return fmt.Errorf("%s: a federated search has one page (no --offset)", setting("federated"))
				}
				res, err := c.FederatedSearch(cmd.Context(), ws.String(), q)
				if err != nil {
					return err
				}
				if f.output == "json" {
					return printList(res.Results, "", "instances", res.Instances, "partial", res.Partial)
				}
				printFederatedHits(res)
				return nil
			}
			res, err := c.SearchKnowledge(cmd.Context(), ws, q)
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printList(res.Results, nextOffset(res.NextOffset), "mode", res.Mode, "embedder", res.Embedder,
					"min_similarity", res.MinSimilarity, "note", res.Note)
			}
			for i, h := range res.Results {
				fmt.Printf("%2d. %s — %s  (%.4f)\n", ff.offset+i+1, h.Slug, h.Title, h.Score)
				if h.Snippet != "" {
					fmt.Printf("    %s\n", strings.Join(strings.Fields(h.Snippet), " "))
				}
			}
			if len(res.Results) == 0 {
				fmt.Println("no entries match")
			}
			if res.Note != "" {
				fmt.Fprintf(os.Stderr, "note: %s\n", res.Note)
			}
			if res.NextOffset != nil {
				fmt.Printf("… more with --offset %d\n", *res.NextOffset)
			}
			return nil
		})
	ff.register(cmd, 10)
	cmd.Flags().StringVar(&mode, "mode", "hybrid", "fulltext, semantic or hybrid")
	cmd.Flags().BoolVar(&fed, "federated", false, "also search the connected instances (within what they grant this one); results are labelled")
	return cmd
}

func printFederatedHits(res federation.FederatedSearch) {
	tb := newTable(os.Stdout, "#\tINSTANCE\tWORKSPACE\tSLUG\tTITLE")
	for i, h := range res.Results {
		tb.row(i+1, h.Instance, h.Workspace, h.Slug, h.Title)
	}
	_ = tb.flush()
	if len(res.Results) == 0 {
		fmt.Println("no entries match")
	}
	printInstances(res.Instances, res.Partial)
}

func newKBGraphCmd() *cobra.Command {
	var center string
	var depth int
	f := &clientFlags{}
	cmd := kbCommand(f, "graph", "The link graph: stats, most connected, orphans, and the edges (the console draws it)", cobra.NoArgs,
		func(cmd *cobra.Command, c *client.Client, ws uuid.UUID, _ []string) error {
			if center == "" && cmd.Flags().Changed("depth") {
				return fmt.Errorf("%s needs %s", setting("depth"), setting("center"))
			}
			g, err := c.KnowledgeGraph(cmd.Context(), ws, center, depth)
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(g)
			}
			st := g.Stats
			fmt.Printf("%d entries, %d links, %d orphans, %d dangling links\n", st.Nodes, st.Edges, st.OrphanCount, st.DanglingLinks)
			if len(st.MostConnected) > 0 {
				fmt.Println("most connected:")
				for _, d := range st.MostConnected {
					fmt.Printf("  %-40s %d\n", d.Slug, d.Degree)
				}
			}
			if len(st.Orphans) > 0 {
				fmt.Println("orphans:")
				for _, o := range st.Orphans {
					fmt.Printf("  %s\n", o.Slug)
				}
			}
			slugs := map[uuid.UUID]string{}
			for _, n := range g.Nodes {
				slugs[n.ID] = n.Slug
			}
			fmt.Println("links:")
			for _, e := range g.Edges {
				fmt.Printf("  %s → %s\n", slugs[e.Source], slugs[e.Target])
			}
			fmt.Printf("draw it: %s/console/knowledge?workspace=%s\n", f.serverURL(), ws)
			return nil
		})
	cmd.Flags().StringVar(&center, "center", "", "only the neighbourhood of this entry")
	cmd.Flags().IntVar(&depth, "depth", 2, "links away from --center (1…5)")
	return cmd
}

func newKBHistoryCmd() *cobra.Command {
	f := &clientFlags{}
	cmd := kbCommand(f, "history SLUG", "An entry's versions, newest first", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *client.Client, ws uuid.UUID, args []string) error {
			list, err := c.EntryVersions(cmd.Context(), ws, args[0])
			if err != nil {
				return err
			}
			return printTable(f.output, list, "VERSION\tAT\tSTATUS\tSIZE\tTITLE\tMESSAGE", func(v store.EntryVersion) []any {
				return []any{v.Version, v.CreatedAt.Local().Format(time.DateTime), v.Status, v.Size, v.Title, v.Message}
			})
		})
	return cmd
}

func newKBDiffCmd() *cobra.Command {
	var from, to int
	f := &clientFlags{}
	cmd := kbCommand(f, "diff SLUG", "A unified diff between two versions (default: the latest against the one before)", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *client.Client, ws uuid.UUID, args []string) error {
			d, err := c.EntryDiff(cmd.Context(), ws, args[0], from, to)
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(d)
			}
			if d.Diff == "" {
				fmt.Printf("versions %d and %d are the same\n", d.From, d.To)
				return nil
			}
			fmt.Print(d.Diff)
			return nil
		})
	cmd.Flags().IntVar(&from, "from", 0, "older version")
	cmd.Flags().IntVar(&to, "to", 0, "newer version (default: the current one)")
	return cmd
}

func newKBRestoreCmd() *cobra.Command {
	var version int
	f := &clientFlags{}
	cmd := kbCommand(f, "restore SLUG --version N", "Make an old version current again (as a new version)", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *client.Client, ws uuid.UUID, args []string) error {
			e, err := c.RestoreEntry(cmd.Context(), ws, args[0], version)
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(e)
			}
			fmt.Printf("restored %s to version %d's content as version %d\n", e.Slug, version, e.Version)
			return nil
		})
	cmd.Flags().IntVar(&version, "version", 0, "the version to restore")
	return cmd
}

func newKBDeleteCmd() *cobra.Command {
	cmd := kbCommand(&clientFlags{}, "delete SLUG", "Delete an entry with its versions (links to it dangle)", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *client.Client, ws uuid.UUID, args []string) error {
			if err := c.DeleteEntry(cmd.Context(), ws, args[0]); err != nil {
				return err
			}
			fmt.Printf("deleted %s\n", args[0])
			return nil
		})
	return cmd
}

func newKBImportCmd() *cobra.Command {
	cmd := kbCommand(&clientFlags{}, "import DIR", "Import a folder of markdown files (a vault): YAML front matter kept, [[links]] by slug, file name, title or alias", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *client.Client, ws uuid.UUID, args []string) error {
			if st, err := os.Stat(args[0]); err != nil || !st.IsDir() {
				return fmt.Errorf("%s is not a directory", args[0])
			}
			docs, bad := mdfile.ReadDir(args[0])
			for _, fe := range bad {
				fmt.Fprintf(os.Stderr, "skipped %v\n", fe)
			}
			created, updated := 0, 0
			var failed []error
			for _, d := range docs {
				in := knowledge.EntryInput{Slug: d.Slug, Title: &d.Title, Body: &d.Body, Tags: &d.Tags, Aliases: &d.Aliases,
					Metadata: d.Metadata, FileName: &d.File, Message: "import"}
				if d.Tags == nil {
					in.Tags = &[]string{}
				}
				if d.Aliases == nil {
					in.Aliases = &[]string{}
				}
				if in.Metadata == nil {
					in.Metadata = json.RawMessage("{}")
				}
				if !d.Created.IsZero() {
					in.CreatedAt = &d.Created
				}
				if d.Status != "" {
					in.Status = &d.Status
				}
				if d.Visibility != "" {
					in.Visibility = &d.Visibility
				}
				_, isNew, err := upsert(cmd.Context(), c, ws, in)
				switch {
				case err != nil:
					fmt.Fprintf(os.Stderr, "failed %s: %v\n", d.Slug, err)
					failed = append(failed, err)
				case isNew:
					created++
				default:
					updated++
				}
			}
			fmt.Printf("imported %d entries (%d new, %d updated); %d files skipped, %d failed\n", created+updated, created, updated, len(bad), len(failed))
			if len(bad)+len(failed) > 0 {
				return fmt.Errorf("%d of %d files were not imported (listed above)", len(bad)+len(failed), len(docs)+len(bad))
			}
			return nil
		})
	return cmd
}

func newKBExportCmd() *cobra.Command {
	var overwrite bool
	cmd := kbCommand(&clientFlags{}, "export DIR", "Write every entry you can see as DIR/<slug>.md with front matter", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *client.Client, ws uuid.UUID, args []string) error {
			var docs []mdfile.Doc
			q := url.Values{"include_body": {"true"}, "limit": {"200"}}
			for {
				page, err := c.ListEntries(cmd.Context(), ws, q)
				if err != nil {
					return err
				}
				for _, e := range page.Entries {
					d := mdfile.Doc{Slug: e.Slug, Title: e.Title, Status: e.Status, Visibility: e.Visibility, Body: e.Body,
						Created: e.CreatedAt.UTC()}
					if len(e.Tags) > 0 {
						d.Tags = e.Tags
					}
					if len(e.Aliases) > 0 {
						d.Aliases = e.Aliases
					}
					if m := bytes.TrimSpace(e.Metadata); len(m) > 0 && string(m) != "{}" {
						d.Metadata = e.Metadata
					}
					docs = append(docs, d)
				}
				if page.NextOffset == nil {
					break
				}
				q.Set("offset", strconv.Itoa(*page.NextOffset))
			}
			if err := mdfile.WriteDir(args[0], docs, overwrite); err != nil {
				return err
			}
			fmt.Printf("exported %d entries to %s\n", len(docs), args[0])
			return nil
		})
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "replace files that exist")
	return cmd
}

func newKBReindexCmd() *cobra.Command {
	var wait bool
	var batch int
	f := &clientFlags{}
	cmd := kbCommand(f, "reindex", "Re-index every entry of the workspace (links, search documents, embeddings) as one checkpointed job", cobra.NoArgs,
		func(cmd *cobra.Command, c *client.Client, ws uuid.UUID, _ []string) error {
			id, err := c.Reindex(cmd.Context(), ws, batch)
			if err != nil {
				return err
			}
			if !wait {
				fmt.Println(id)
				return nil
			}
			task, err := c.WaitTask(cmd.Context(), ws, id)
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(task)
			}
			fmt.Println(id)
			printTask(task)
			if task.Status != store.StatusSucceeded {
				return errors.New("the re-index ended " + string(task.Status))
			}
			return nil
		})
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the end")
	cmd.Flags().IntVar(&batch, "batch-size", 100, "entries per checkpoint (1…1000)")
	return cmd
}
