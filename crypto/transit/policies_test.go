package transit_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/crypto/transit"
	"github.com/mosaicstack/mosaic/crypto/transittest"
)

// loadPolicy reads one of deploy/openbao's policy files into the test double's form, each rule
// named for the policy (as a token's lookup lists it). The double grants the union of matching
// paths (OpenBao takes the most specific match; the files never overlap, so both read them alike)
// and does not enforce allowed_parameters.
func loadPolicy(t *testing.T, role string) []transittest.Policy {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "openbao", "policies", role+".hcl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []transittest.Policy
	stanza := regexp.MustCompile(`(?s)path "([^"]+)" \{\s*capabilities = \[([^\]]*)\]`)
	for _, m := range stanza.FindAllStringSubmatch(string(b), -1) {
		p := transittest.Policy{Name: role, Path: m[1]}
		for _, c := range strings.Split(m[2], ",") {
			p.Capabilities = append(p.Capabilities, strings.Trim(strings.TrimSpace(c), `"`))
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		t.Fatalf("%s.hcl has no path stanza", role)
	}
	return out
}

// withRoot starts a Transit test double and a client on its root token, both closed at cleanup.
func withRoot(t *testing.T) (*transittest.Server, *transit.Client) {
	t.Helper()
	srv := transittest.New()
	t.Cleanup(srv.Close)
	root, err := transit.New(context.Background(), transit.Config{Addr: srv.URL(), Token: srv.RootToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(root.Close)
	return srv, root
}

// The policies that deploy/openbao writes give each Mosaic process what it needs and nothing
// more: the API encrypts, workers decrypt, the rotation agent rewraps and rotates; nobody creates
// a key. Each role logs in through AppRole as init.sh sets it up.
func TestDeployPolicies(t *testing.T) {
	ctx := context.Background()
	srv, root := withRoot(t)
	kctx := []byte("ws:cred")
	stored := map[string]string{}
	for _, key := range crypto.Keys {
		if _, err := root.CreateKey(ctx, key); err != nil {
			t.Fatal(err)
		}
		var err error
		if stored[key], err = root.Encrypt(ctx, key, []byte("s3cret"), kctx); err != nil {
			t.Fatal(err)
		}
	}

	login := func(t *testing.T, roles ...string) *transit.Client {
		var pols []transittest.Policy
		for _, r := range roles {
			pols = append(pols, loadPolicy(t, r)...)
		}
		id := strings.Join(roles, ",")
		srv.AddAppRole(id, "secret-"+id, time.Hour, pols...)
		c, err := transit.New(ctx, transit.Config{Addr: srv.URL(), RoleID: id, SecretID: "secret-" + id})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	type op struct {
		name string
		run  func(c *transit.Client, key string) error
	}
	ops := []op{
		{"encrypt", func(c *transit.Client, key string) error {
			_, err := c.Encrypt(ctx, key, []byte("x"), kctx)
			return err
		}},
		{"decrypt", func(c *transit.Client, key string) error {
			_, err := c.Decrypt(ctx, key, stored[key], kctx)
			return err
		}},
		{"rewrap", func(c *transit.Client, key string) error { _, err := c.Rewrap(ctx, key, stored[key], kctx); return err }},
		{"key info", func(c *transit.Client, key string) error { _, err := c.KeyInfo(ctx, key); return err }},
		{"rotate", func(c *transit.Client, key string) error { _, err := c.RotateKey(ctx, key); return err }},
		{"min version", func(c *transit.Client, key string) error {
			_, err := c.SetMinDecryptionVersion(ctx, key, 1)
			return err
		}},
		{"create existing", func(c *transit.Client, key string) error { _, err := c.CreateKey(ctx, key); return err }},
		{"create new", func(c *transit.Client, key string) error { _, err := c.CreateKey(ctx, key+"-2"); return err }},
	}
	cases := []struct {
		roles []string
		may   map[string]func(key string) bool // op → keys it is allowed on
		caps  crypto.Capabilities
	}{
		{[]string{"mosaic-api"}, map[string]func(string) bool{"encrypt": all, "decrypt": only(crypto.KeyFederation)}, crypto.Capabilities{Encrypt: true}},
		{[]string{"mosaic-worker"}, map[string]func(string) bool{"decrypt": all}, crypto.Capabilities{Decrypt: true}},
		{[]string{"mosaic-rotation"}, map[string]func(string) bool{
			"encrypt": only(crypto.KeyCredentials), "decrypt": only(crypto.KeyCredentials),
			"rewrap": all, "key info": all, "rotate": all, "min version": all,
		}, crypto.Capabilities{Encrypt: true, Decrypt: true}},
		{[]string{"mosaic-api", "mosaic-worker", "mosaic-rotation"}, map[string]func(string) bool{
			"encrypt": all, "decrypt": all, "rewrap": all, "key info": all, "rotate": all, "min version": all,
		}, crypto.Capabilities{Encrypt: true, Decrypt: true}},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.roles, "+"), func(t *testing.T) {
			c := login(t, tc.roles...)
			for _, o := range ops {
				for _, key := range crypto.Keys {
					err := o.run(c, key)
					want := tc.may[o.name] != nil && tc.may[o.name](key)
					switch {
					case want && err != nil:
						t.Errorf("%s on %s: %v; the policy should allow it", o.name, key, err)
					case !want && !errors.Is(err, crypto.ErrPermissionDenied):
						t.Errorf("%s on %s: %v; want permission denied", o.name, key, err)
					}
				}
			}
			caps, err := crypto.Canary(ctx, c, crypto.KeyCredentials)
			if err != nil || caps != tc.caps {
				t.Fatalf("canary: %v %v; want %v", caps, err, tc.caps)
			}
		})
	}

	// A policy that allows neither stops the process at start-up.
	srv.AddToken("s.nothing", time.Hour, transittest.Policy{Path: "transit/keys/*", Capabilities: []string{"read"}})
	c, err := transit.New(ctx, transit.Config{Addr: srv.URL(), Token: "s.nothing"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := crypto.Canary(ctx, c, crypto.KeyCredentials); err == nil || !strings.Contains(err.Error(), "neither encrypt nor decrypt") {
		t.Fatalf("canary with no rights: %v", err)
	}
}

func all(string) bool { return true }

func only(key string) func(string) bool { return func(k string) bool { return k == key } }

// TestRotatedOutVersionsStayOut: after a key rotation's rewrap, raising the minimum decryption
// version is for good. In OpenBao raising it alone is reversible, so the client trims the older
// versions too: neither the rotation role nor the root token can make an old ciphertext decrypt
// again by lowering the minimum.
func TestRotatedOutVersionsStayOut(t *testing.T) {
	ctx := context.Background()
	srv, root := withRoot(t)
	key, kctx := crypto.KeyCredentials, []byte("ws:cred")
	if _, err := root.CreateKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	old, err := root.Encrypt(ctx, key, []byte("s3cret"), kctx)
	if err != nil {
		t.Fatal(err)
	}
	srv.AddAppRole("rotation", "secret", time.Hour, loadPolicy(t, "mosaic-rotation")...)
	rot, err := transit.New(ctx, transit.Config{Addr: srv.URL(), RoleID: "rotation", SecretID: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	defer rot.Close()
	if _, err := rot.RotateKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	rewrapped, err := rot.Rewrap(ctx, key, old, kctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rot.SetMinDecryptionVersion(ctx, key, 2); err != nil {
		t.Fatal(err)
	}
	if got, err := root.Decrypt(ctx, key, rewrapped, kctx); err != nil || string(got) != "s3cret" {
		t.Fatalf("the rewrapped value: %q %v", got, err)
	}
	for name, c := range map[string]*transit.Client{"rotation role": rot, "root": root} {
		if _, err := c.SetMinDecryptionVersion(ctx, key, 1); err == nil {
			t.Errorf("%s lowered the minimum decryption version below the trimmed versions", name)
		}
		if _, err := root.Decrypt(ctx, key, old, kctx); err == nil {
			t.Fatalf("after %s's attempt, a ciphertext of the rotated-out version decrypts", name)
		}
	}
}

// A token without OpenBao's default policy cannot look itself up: the client says so at start.
func TestTokenWithoutDefaultPolicyIsNamed(t *testing.T) {
	srv := transittest.New()
	t.Cleanup(srv.Close)
	srv.AddTokenWithoutDefault("s.bare", 0, loadPolicy(t, "mosaic-worker")...)
	_, err := transit.New(context.Background(), transit.Config{Addr: srv.URL(), Token: "s.bare"})
	if err == nil || !strings.Contains(err.Error(), "default policy") {
		t.Fatalf("a token without the default policy: %v; want an error that names it", err)
	}
}
