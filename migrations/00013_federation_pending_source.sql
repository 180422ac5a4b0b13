-- Where a request to connect came from (the address that posted the CONNECT): the pending
-- requests that one address may hold are bounded, and when the queue is full the oldest request
-- of the address holding the most gives way, so that a flood from a few addresses cannot keep
-- real requests out for the seven days a request waits.

-- +goose Up
ALTER TABLE federation_peers ADD COLUMN source text CHECK (char_length(source) <= 128);

-- +goose Down
ALTER TABLE federation_peers DROP COLUMN source;
