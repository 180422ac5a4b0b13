-- A request to connect is known by its key, not by the id or name its sender chose. Anyone can
-- post a CONNECT under any instance id and name; only its signing key (and, proven by a signature
-- in the CONNECT, its leafnode key) is the sender's own. Ids and names are therefore unique only
-- among the peers this instance linked with (requested, accepted): a stranger's request under
-- another instance's id or name waits beside the real one instead of keeping it out, and the
-- admin accepts one of them by its key.

-- +goose Up
ALTER TABLE federation_grants DROP CONSTRAINT federation_grants_peer_id_fkey;
ALTER TABLE federation_peers DROP CONSTRAINT federation_peers_pkey;
ALTER TABLE federation_peers DROP CONSTRAINT federation_peers_public_key_key;
ALTER TABLE federation_peers ADD PRIMARY KEY (public_key);
CREATE UNIQUE INDEX federation_peers_linked_id ON federation_peers (id) WHERE status IN ('requested', 'accepted');
DROP INDEX federation_peers_name;
CREATE UNIQUE INDEX federation_peers_name ON federation_peers (lower(name)) WHERE status IN ('requested', 'accepted');
CREATE INDEX federation_peers_by_id ON federation_peers (id);

-- +goose Down
DELETE FROM federation_peers p WHERE status IN ('pending', 'rejected')
    AND EXISTS (SELECT 1 FROM federation_peers q WHERE q.public_key <> p.public_key
        AND (q.id = p.id OR lower(q.name) = lower(p.name)));
DROP INDEX federation_peers_by_id;
DROP INDEX federation_peers_name;
CREATE UNIQUE INDEX federation_peers_name ON federation_peers (lower(name));
DROP INDEX federation_peers_linked_id;
ALTER TABLE federation_peers DROP CONSTRAINT federation_peers_pkey;
ALTER TABLE federation_peers ADD CONSTRAINT federation_peers_public_key_key UNIQUE (public_key);
ALTER TABLE federation_peers ADD PRIMARY KEY (id);
DELETE FROM federation_grants g WHERE NOT EXISTS (SELECT 1 FROM federation_peers p WHERE p.id = g.peer_id);
ALTER TABLE federation_grants ADD CONSTRAINT federation_grants_peer_id_fkey
    FOREIGN KEY (peer_id) REFERENCES federation_peers (id) ON DELETE CASCADE;
