-- Self-service resets of two-factor sign-in, for a person who lost every
-- factor: asked for after the password, they wait (the policy's hours)
-- while every channel of the account is told, with a link to cancel. The
-- link's token is kept only as its SHA-256. One waiting reset per account.
CREATE TABLE two_factor_resets (
    id           UUID PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    cancel_hash  BYTEA NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL,
    ready_at     TIMESTAMPTZ NOT NULL,
    state        TEXT NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting', 'cancelled', 'completed')),
    ended_at     TIMESTAMPTZ,
    -- Who or what ended it: link, signed_in, administrator, not_me, completed.
    ended_by     TEXT,
    ip           TEXT NOT NULL,
    CONSTRAINT two_factor_resets_cancel_unique UNIQUE (cancel_hash)
);
CREATE UNIQUE INDEX two_factor_resets_one_waiting ON two_factor_resets (user_id) WHERE state = 'waiting';
CREATE INDEX two_factor_resets_user ON two_factor_resets (user_id);
