-- A credential's provider and metadata say where a rotation sends its value (a DSN, a URL). They are
-- bound to the value: a change of either must replace the value in the same statement (and drop a
-- staged one), so nobody who may manage a credential without knowing it can point its value at an
-- endpoint of their choice. The rule lives here, once; the API maps the refusal (SQLSTATE MOS01).

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION credential_value_binding() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.provider, NEW.metadata) IS DISTINCT FROM (OLD.provider, OLD.metadata)
       AND (NEW.encrypted_value = OLD.encrypted_value OR NEW.pending_value IS NOT NULL) THEN
        RAISE EXCEPTION 'a credential''s provider and metadata are bound to its value: give the value again to change them'
            USING ERRCODE = 'MOS01';
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER credential_value_binding BEFORE UPDATE OF provider, metadata ON user_credentials
    FOR EACH ROW EXECUTE FUNCTION credential_value_binding();

-- +goose Down
DROP TRIGGER credential_value_binding ON user_credentials;
DROP FUNCTION credential_value_binding();
