-- Authenticator apps (TOTP, RFC 6238): one row per app credential. The
-- secret is sealed with TESSERA_SECRET_KEY (SECURITY.md 34); the last
-- accepted time step makes each code work once (35).
CREATE TABLE totp_apps (
    credential_id  UUID PRIMARY KEY REFERENCES credentials (id) ON DELETE CASCADE,
    secret_sealed  BYTEA NOT NULL,
    last_step      BIGINT NOT NULL
);

-- An app being added: its secret was shown and a code from it is awaited.
-- At most one per account; a new start replaces it.
CREATE TABLE totp_enrollments (
    user_id        UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    nickname       TEXT NOT NULL,
    secret_sealed  BYTEA NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL
);

-- Authenticator apps need no plugin: on from the start.
INSERT INTO method_settings (method, enabled, plugin) VALUES ('totp', TRUE, '') ON CONFLICT (method) DO NOTHING;
