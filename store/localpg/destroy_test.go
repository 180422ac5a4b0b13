package localpg

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestDestroyRemovesTheCluster: a temporary cluster leaves nothing behind, also when it lived
// outside its Dir (as root, the server user cannot reach a test's temporary directory, and each
// run used to leave a cluster of half a gigabyte in the system's temporary directory).
func TestDestroyRemovesTheCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "pg")
	s, err := Start(ctx, Config{Dir: dir, Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	cluster := filepath.Dir(s.dataDir)
	if err := s.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, cluster} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s is still there after Destroy (stat: %v)", d, err)
		}
	}
}

// TestSweepRemovesOrphanedClustersOnly: a cluster kept apart for a temporary data directory that
// is gone (a test's, run as root without Destroy) is removed; one whose data directory is still
// there, or lies outside the temporary directory, is kept.
func TestSweepRemovesOrphanedClustersOnly(t *testing.T) {
	cluster := func(origin string) string {
		c, err := os.MkdirTemp("", clusterPrefix+"sweep-test-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(c) })
		if err := os.MkdirAll(filepath.Join(c, "data"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(c, originFile), []byte(origin), 0o600); err != nil {
			t.Fatal(err)
		}
		return c
	}
	gone := filepath.Join(t.TempDir(), "gone")
	there := t.TempDir()
	orphan, kept, elsewhere := cluster(gone), cluster(there), cluster("/nonexistent/mosaic-data")
	sweepOrphans(zerolog.Nop())
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("the cluster of a temporary data directory that is gone is still there (stat: %v)", err)
	}
	for _, c := range []string{kept, elsewhere} {
		if _, err := os.Stat(c); err != nil {
			t.Errorf("%s was removed: %v", c, err)
		}
	}
}
