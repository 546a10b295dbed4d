-- The OpenID Connect provider: applications (clients), the keys that sign
-- ID tokens, authorization codes and the tokens issued for them.

-- An application that signs users in through Tessera. The secret of a
-- confidential client is kept only as a SHA-256 hash (it is 256 random
-- bits, so no slow hash is needed; SECURITY.md 45); a public client has
-- none and must use PKCE (43).
CREATE TABLE oidc_clients (
    id                      TEXT PRIMARY KEY,
    name                    TEXT NOT NULL,
    secret_hash             BYTEA,
    redirect_uris           TEXT[] NOT NULL,
    post_logout_redirect_uris TEXT[] NOT NULL DEFAULT '{}',
    grants                  TEXT[] NOT NULL DEFAULT '{authorization_code,refresh_token}',
    allowed_acrs            TEXT[] NOT NULL DEFAULT '{}',
    default_acr             TEXT,
    first_party             BOOLEAN NOT NULL DEFAULT TRUE,
    access_token_secs       INT NOT NULL DEFAULT 600 CHECK (access_token_secs BETWEEN 60 AND 86400),
    refresh_token_secs      INT NOT NULL DEFAULT 2592000 CHECK (refresh_token_secs BETWEEN 300 AND 31536000),
    created_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    secret_rotated_at       TIMESTAMPTZ,
    CONSTRAINT oidc_clients_id_shape CHECK (id ~ '^[A-Za-z0-9_.-]{1,64}$'),
    CONSTRAINT oidc_clients_has_redirect CHECK (cardinality(redirect_uris) > 0)
);

-- Keys that sign ID tokens. The private key is sealed under
-- TESSERA_SECRET_KEY (45); the newest key not retired signs; a retired key's
-- public half stays in the JWKS until `retired_at` plus the longest token
-- lifetime has passed.
CREATE TABLE oidc_signing_keys (
    kid            TEXT PRIMARY KEY,
    alg            TEXT NOT NULL,
    sealed_private BYTEA NOT NULL,
    public_jwk     JSONB NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    retired_at     TIMESTAMPTZ
);
CREATE UNIQUE INDEX oidc_signing_keys_one_active ON oidc_signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;

-- An authorization code: single use, short-lived, bound to the client, the
-- redirect URI, the PKCE challenge and the nonce (43), carrying what the
-- sign-in proved for the ID token (44). Kept (used) until it expires so that
-- a replay is recognised and revokes what the code issued.
CREATE TABLE oidc_authorization_codes (
    code_hash       BYTEA PRIMARY KEY,
    client_id       TEXT NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    user_id         UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri    TEXT NOT NULL,
    scope           TEXT NOT NULL,
    nonce           TEXT,
    code_challenge  TEXT,
    acr             TEXT NOT NULL,
    amr             TEXT[] NOT NULL,
    auth_time       TIMESTAMPTZ NOT NULL,
    session_id      UUID,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    used_at         TIMESTAMPTZ
);
CREATE INDEX oidc_authorization_codes_client ON oidc_authorization_codes (client_id);
CREATE INDEX oidc_authorization_codes_user ON oidc_authorization_codes (user_id);

-- Access and refresh tokens, opaque to clients and kept only as hashes.
-- `grant_id` ties every token of one grant together: the code's exchange and
-- each refresh that follows (a refresh-token family, 48).
CREATE TABLE oidc_tokens (
    token_hash   BYTEA PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    grant_id     UUID NOT NULL,
    client_id    TEXT NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope        TEXT NOT NULL,
    acr          TEXT NOT NULL,
    amr          TEXT[] NOT NULL,
    auth_time    TIMESTAMPTZ NOT NULL,
    session_id   UUID,
    code_hash    BYTEA,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    used_at      TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX oidc_tokens_grant ON oidc_tokens (grant_id);
CREATE INDEX oidc_tokens_client ON oidc_tokens (client_id);
CREATE INDEX oidc_tokens_user ON oidc_tokens (user_id);
CREATE INDEX oidc_tokens_code ON oidc_tokens (code_hash) WHERE code_hash IS NOT NULL;
CREATE INDEX oidc_tokens_session ON oidc_tokens (session_id) WHERE session_id IS NOT NULL;
