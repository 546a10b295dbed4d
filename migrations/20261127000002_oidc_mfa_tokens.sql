-- The password grant's second step (SECURITY.md 47): an `mfa_token` is
-- single use, bound to the client and the account, and lives as long as a
-- code. `user_id` is empty for a username that matched no account (the
-- answer to the client is the same); `password_verified_at` is set when the
-- password came with the first request.
CREATE TABLE oidc_mfa_tokens (
    token_hash            BYTEA PRIMARY KEY,
    client_id             TEXT NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    user_id               UUID REFERENCES users (id) ON DELETE CASCADE,
    username              TEXT NOT NULL,
    password_verified_at  TIMESTAMPTZ,
    scope                 TEXT NOT NULL,
    created_at            TIMESTAMPTZ NOT NULL,
    expires_at            TIMESTAMPTZ NOT NULL,
    used_at               TIMESTAMPTZ
);
CREATE INDEX oidc_mfa_tokens_client ON oidc_mfa_tokens (client_id);
CREATE INDEX oidc_mfa_tokens_user ON oidc_mfa_tokens (user_id) WHERE user_id IS NOT NULL;
