package main

import (
	"encoding/json"
	"fmt"
	"os"
	goruntime "runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version and commit are this build's when the build sets them (make build: -ldflags
// "-X main.version=… -X main.commit=…", from git); otherwise they come from the build
// information: the module's version ("(devel)" for a build from a checkout) and the VCS stamp
// (absent with -buildvcs=false).
var version, commit string

// buildVersion is what `mosaic version` prints and what agents report.
type buildVersion struct {
	Version    string `json:"version"`
	Commit     string `json:"commit,omitempty"`
	CommitTime string `json:"commit_time,omitempty"`
	Modified   bool   `json:"modified,omitempty"` // built from a work tree with uncommitted changes
	Go         string `json:"go"`
	Platform   string `json:"platform"`
}

func currentVersion() buildVersion {
	v := buildVersion{Version: version, Commit: commit, Go: goruntime.Version(), Platform: goruntime.GOOS + "/" + goruntime.GOARCH}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		if v.Version == "" {
			v.Version = "unknown"
		}
		return v
	}
	if v.Version == "" {
		v.Version = info.Main.Version
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			if v.Commit == "" {
				v.Commit = s.Value
			}
		case "vcs.time":
			v.CommitTime = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// Short is the version as one token, as agents report it: the version, and for a build from a
// checkout the commit's first 12 characters ("+dirty" when modified).
func (v buildVersion) Short() string {
	s := v.Version
	if v.Commit != "" && (s == "(devel)" || s == "" || s == "unknown") {
		s = v.Commit[:min(12, len(v.Commit))]
		if v.Modified {
			s += "+dirty"
		}
	}
	return s
}

func (v buildVersion) String() string {
	s := "mosaic " + v.Version
	if v.Commit != "" {
		s += " (commit " + v.Commit
		if v.CommitTime != "" {
			s += ", " + v.CommitTime
		}
		if v.Modified {
			s += ", modified"
		}
		s += ")"
	}
	return s + " " + v.Go + " " + v.Platform
}

func newVersionCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version of this build",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := currentVersion()
			switch output {
			case "text":
				fmt.Println(v)
				return nil
			case "json":
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			default:
				return usageError{fmt.Errorf("%s: %q is not text or json", setting("output"), output)}
			}
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}
