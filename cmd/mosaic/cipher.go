package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/mosaicstack/mosaic/agents/credrotate"
	"github.com/mosaicstack/mosaic/credentials"
	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/crypto/keyring"
	"github.com/mosaicstack/mosaic/crypto/transit"
)

// cipherFlags choose how credentials are encrypted: OpenBao Transit, or the local keyring.
type cipherFlags struct {
	openbaoAddr       string
	openbaoToken      string
	openbaoRoleID     string
	openbaoSecretID   string
	openbaoMount      string
	openbaoCA         string
	env               string
	allowLocalKeyring bool
	// rotationHTTPAllow is where the http rotation provider may send values.
	rotationHTTPAllow []string
	// observe, when the command sets it, sees every Transit call (metrics); not a flag.
	observe func(op string, d time.Duration, err error)
}

func (f *cipherFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.openbaoAddr, "openbao-addr", "", "OpenBao address for Transit (empty: the local keyring, development only)")
	fl.StringVar(&f.openbaoToken, "openbao-token", "", "OpenBao token (prefer MOSAIC_OPENBAO_TOKEN)")
	fl.StringVar(&f.openbaoRoleID, "openbao-role-id", "", "AppRole role ID (instead of a token)")
	fl.StringVar(&f.openbaoSecretID, "openbao-secret-id", "", "AppRole secret ID (prefer MOSAIC_OPENBAO_SECRET_ID)")
	fl.StringVar(&f.openbaoMount, "openbao-mount", "transit", "Transit mount")
	fl.StringVar(&f.openbaoCA, "openbao-ca", "", "CA file to verify OpenBao's certificate")
	fl.StringVar(&f.env, "env", "development", "development or production (production refuses the local keyring)")
	fl.BoolVar(&f.allowLocalKeyring, "allow-local-keyring", false, "let production run on the local keyring anyway (not recommended)")
	fl.StringSliceVar(&f.rotationHTTPAllow, "rotation-http-allow", nil,
		"destinations the http rotation provider may reach: host names (*.example.com, host:port) or CIDRs; loopback, link-local and private addresses only through a listed CIDR (empty: none)")
}

// rotation is the rotation agent's configuration from these flags (its Credentials set by the caller).
func (f *cipherFlags) rotation(creds *credentials.Vault) credrotate.Config {
	return credrotate.Config{Credentials: creds, Production: f.env == "production", HTTPAllow: f.rotationHTTPAllow}
}

func (f *cipherFlags) validate() error {
	var errs []error
	if f.env != "development" && f.env != "production" {
		errs = append(errs, fmt.Errorf("%s: %q is not development or production", setting("env"), f.env))
	}
	if f.openbaoAddr != "" && f.openbaoToken == "" && (f.openbaoRoleID == "" || f.openbaoSecretID == "") {
		errs = append(errs, fmt.Errorf("%s needs %s, or %s and %s", setting("openbao-addr"), setting("openbao-token"),
			setting("openbao-role-id"), setting("openbao-secret-id")))
	}
	if err := credrotate.ValidateAllow(f.rotationHTTPAllow); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", setting("rotation-http-allow"), err))
	}
	if f.env == "production" && f.openbaoAddr == "" && !f.allowLocalKeyring {
		errs = append(errs, fmt.Errorf("%s=production: %w; set %s, or pass %s to accept the risk",
			setting("env"), crypto.ErrProductionRefused, setting("openbao-addr"), setting("allow-local-keyring")))
	}
	return errors.Join(errs...)
}

// openCipher opens Transit or the keyring and proves it with a canary encrypt/decrypt of the
// credentials key, before anything is written with it.
func (f *cipherFlags) open(ctx context.Context, dataDir string, log zerolog.Logger) (crypto.Cipher, func(), error) {
	if f.openbaoAddr != "" {
		c, err := transit.New(ctx, transit.Config{Addr: f.openbaoAddr, Token: f.openbaoToken, RoleID: f.openbaoRoleID,
			SecretID: f.openbaoSecretID, Mount: f.openbaoMount, CACert: f.openbaoCA, Logger: &log, Observe: f.observe})
		if err != nil {
			return nil, nil, err
		}
		caps, err := crypto.Canary(ctx, c, crypto.KeyCredentials)
		if err != nil {
			c.Close()
			return nil, nil, fmt.Errorf("%w (are the keys created and the policy attached? see deploy/openbao)", err)
		}
		log.Info().Str("openbao", f.openbaoAddr).Stringer("may", caps).Msg("credentials encrypted with OpenBao Transit")
		return c, c.Close, nil
	}
	k, err := keyring.Open(filepath.Join(dataDir, "keyring.json"), keyring.Options{Env: f.env, AllowInProduction: f.allowLocalKeyring, Logger: &log})
	if err != nil {
		return nil, nil, err
	}
	for _, key := range crypto.Keys {
		if _, err := k.CreateKey(ctx, key); err != nil {
			return nil, nil, err
		}
	}
	if _, err := crypto.Canary(ctx, k, crypto.KeyCredentials); err != nil {
		return nil, nil, err
	}
	return k, func() {}, nil
}
