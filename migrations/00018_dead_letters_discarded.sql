-- A dead letter an operator decided not to replay is discarded: kept (the record of what
-- failed), out of the default list and the count of those waiting, with who discarded it.

-- +goose Up
ALTER TABLE dead_letters ADD COLUMN discarded_at timestamptz, ADD COLUMN discarded_by text;

-- +goose Down
ALTER TABLE dead_letters DROP COLUMN discarded_at, DROP COLUMN discarded_by;
