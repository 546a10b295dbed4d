-- Pushed authorization requests (RFC 9126). A client may be required to
-- push its requests; a pushed request is kept a minute, bound to its
-- client, taken once, and found by the digest of its request_uri.
ALTER TABLE oidc_clients ADD COLUMN require_par BOOLEAN NOT NULL DEFAULT false;

CREATE TABLE oidc_pushed_requests (
    uri_hash   BYTEA PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    params     JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX oidc_pushed_requests_expiry ON oidc_pushed_requests (expires_at);
CREATE INDEX oidc_pushed_requests_client ON oidc_pushed_requests (client_id);
