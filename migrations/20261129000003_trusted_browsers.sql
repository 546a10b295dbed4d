-- Browsers trusted to skip the second factor (SECURITY.md 41): the token
-- lives only in the browser's cookie; here its SHA-256, bound to one account.
CREATE TABLE trusted_browsers (
    id            UUID PRIMARY KEY,
    user_id       UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash    BYTEA NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    last_used_at  TIMESTAMPTZ,
    ip            TEXT NOT NULL,
    user_agent    TEXT,
    CONSTRAINT trusted_browsers_token_unique UNIQUE (token_hash)
);
CREATE INDEX trusted_browsers_user ON trusted_browsers (user_id);
