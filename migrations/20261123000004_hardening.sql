-- Hardening: SMS send budgets beyond the per-number cap, the sessions each
-- user can see and end, and notifications of security changes.

-- Budgets per hour (SECURITY.md 13); the per-number cap stays per 10 minutes.
ALTER TABLE policy ADD COLUMN max_sends_per_ip INT NOT NULL DEFAULT 20 CHECK (max_sends_per_ip BETWEEN 1 AND 10000);
ALTER TABLE policy ADD COLUMN max_sends_per_account INT NOT NULL DEFAULT 10 CHECK (max_sends_per_account BETWEEN 1 AND 1000);
ALTER TABLE policy ADD COLUMN max_sends_per_country INT NOT NULL DEFAULT 500 CHECK (max_sends_per_country BETWEEN 1 AND 1000000);
ALTER TABLE policy ADD COLUMN max_sends_per_hour INT NOT NULL DEFAULT 1000 CHECK (max_sends_per_hour BETWEEN 1 AND 1000000);

-- A row is written (under one advisory lock) before the provider is called,
-- and removed if the call fails: every server on the database spends one budget.
ALTER TABLE sms_sends ADD COLUMN country TEXT;
CREATE INDEX sms_sends_at ON sms_sends (sent_at);

-- The signed-in sessions of each user: what the "Sessions" page lists. The
-- session (in tower_sessions) carries this row's id; a session whose row is
-- gone is signed out at its next request, on every server.
CREATE TABLE user_sessions (
    id          UUID PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL,
    last_seen   TIMESTAMPTZ NOT NULL,
    ip          TEXT NOT NULL,
    user_agent  TEXT
);
CREATE INDEX user_sessions_user ON user_sessions (user_id, last_seen);

-- Security notifications: sent by email when SMTP is configured, otherwise
-- kept here for the administrator (the email outbox).
CREATE TABLE notifications (
    id          BIGSERIAL PRIMARY KEY,
    user_id     UUID REFERENCES users (id) ON DELETE SET NULL,
    kind        TEXT NOT NULL,
    to_address  TEXT,
    subject     TEXT NOT NULL,
    body        TEXT NOT NULL,
    channel     TEXT NOT NULL CHECK (channel IN ('email', 'outbox')),
    created_at  TIMESTAMPTZ NOT NULL,
    sent_at     TIMESTAMPTZ,
    error       TEXT
);
CREATE INDEX notifications_user ON notifications (user_id, created_at);
