package agents

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/store"
)

// declared is ErrCredentialNotDeclared, naming the declared ones, unless name is among them.
func declared(names []string, name string) error {
	if slices.Contains(names, name) {
		return nil
	}
	return fmt.Errorf("%w: %q (declared: %v)", ErrCredentialNotDeclared, name, names)
}

// credential opens a credential for the running delivery: declared by the task, while the
// delivery holds the task, audited; the plaintext is wiped when the delivery ends.
func (d *delivery) credential(ctx context.Context, name string) (crypto.Secret, error) {
	d.mu.Lock()
	ended := d.ended
	d.mu.Unlock()
	if ended {
		return crypto.Secret{}, ErrNotRunning
	}
	if err := declared(d.credentials, name); err != nil {
		return crypto.Secret{}, err
	}
	creds := d.pool.cfg.Credentials
	if creds == nil {
		return crypto.Secret{}, ErrNoCredentials
	}
	res, _, err := d.ensureClaimed(nil, 0, "")
	if err != nil {
		return crypto.Secret{}, fmt.Errorf("credential %q: %w", name, err)
	}
	if res.Outcome != store.Claimed {
		return crypto.Secret{}, ErrFenced
	}
	c, err := creds.DB.OpenForTask(ctx, store.TaskAccess{WorkspaceID: d.ws, TaskID: d.id, Fence: d.fence, Attempt: d.attempt,
		Agent: d.pool.cfg.WorkerName, Purpose: "task " + d.kind}, name)
	if errors.Is(err, store.ErrFenced) {
		d.fence0()
		return crypto.Secret{}, ErrFenced
	}
	if err != nil {
		return crypto.Secret{}, fmt.Errorf("credential %q: %w", name, err)
	}
	s, err := creds.Open(ctx, d.ws, c.ID, c.EncryptedValue)
	if err != nil {
		return crypto.Secret{}, err
	}
	d.mu.Lock()
	d.secrets = append(d.secrets, s)
	d.mu.Unlock()
	d.touch()
	return s, nil
}
