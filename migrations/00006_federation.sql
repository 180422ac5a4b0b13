-- Federation: this instance's identity. Its signing key (an nkeys seed) is stored only as Transit
-- ciphertext of the mosaic-federation key, under the context "federation:<instance id>". One row.

-- +goose Up
CREATE TABLE federation_identity (
    id              uuid PRIMARY KEY,
    singleton       boolean NOT NULL DEFAULT true UNIQUE CHECK (singleton),
    name            text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 64),
    public_key      text NOT NULL CHECK (public_key ~ '^N[A-Z2-7]{55}$'),
    seed_ciphertext text NOT NULL CHECK (seed_ciphertext ~ '^[a-z][a-z0-9-]*:v[0-9]+:[A-Za-z0-9+/=]+$'),
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE federation_identity;
