-- Accounts, their second-factor credentials, and failed sign-ins for throttling.

CREATE TABLE users (
    id                   UUID PRIMARY KEY,
    username             TEXT NOT NULL,
    -- Case-folded username; uniqueness is case-insensitive.
    username_key         TEXT NOT NULL,
    email                TEXT,
    display_name         TEXT NOT NULL,
    role                 TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    password_hash        TEXT NOT NULL,
    two_factor_enabled   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL,
    last_sign_in_at      TIMESTAMPTZ,
    previous_sign_in_at  TIMESTAMPTZ,
    CONSTRAINT users_username_key_unique UNIQUE (username_key),
    CONSTRAINT users_username_length CHECK (char_length(username) BETWEEN 1 AND 64)
);
CREATE UNIQUE INDEX users_email_unique ON users (lower(email)) WHERE email IS NOT NULL;

-- One row per second-factor credential (an SMS phone today; TOTP apps,
-- recovery codes and passkeys later). Method-specific data lives in tables
-- of their own keyed by the credential id.
CREATE TABLE credentials (
    id            UUID PRIMARY KEY,
    user_id       UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method        TEXT NOT NULL,
    nickname      TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    last_used_at  TIMESTAMPTZ
);
CREATE INDEX credentials_user ON credentials (user_id);

-- Failed sign-ins, counted per account key and per IP inside a window.
CREATE TABLE sign_in_failures (
    id           BIGSERIAL PRIMARY KEY,
    account_key  TEXT NOT NULL,
    ip           TEXT NOT NULL,
    failed_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX sign_in_failures_account ON sign_in_failures (account_key, failed_at);
CREATE INDEX sign_in_failures_ip ON sign_in_failures (ip, failed_at);
