-- SMS one-time codes: enrolled phones, open challenges, sends, failures, the
-- outbox, and which plugin handles the SMS method.

ALTER TABLE users ADD COLUMN preferred_credential_id UUID REFERENCES credentials (id) ON DELETE SET NULL;

-- An enrolled phone: one row per SMS credential. A number belongs to one
-- account only (SECURITY.md 14).
CREATE TABLE sms_phones (
    credential_id      UUID PRIMARY KEY REFERENCES credentials (id) ON DELETE CASCADE,
    phone_e164         TEXT NOT NULL,
    -- The plugin that enrolled it, and the provider's ids (Stytch user_id, phone_id).
    plugin             TEXT NOT NULL,
    provider_user_id   TEXT,
    provider_phone_id  TEXT,
    CONSTRAINT sms_phones_phone_unique UNIQUE (phone_e164)
);

-- A code on its way: for enrolling a number or for signing in. At most one
-- open challenge per user and purpose; a resend replaces its code.
CREATE TABLE otp_challenges (
    id                 UUID PRIMARY KEY,
    user_id            UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose            TEXT NOT NULL CHECK (purpose IN ('enroll', 'login')),
    phone_e164         TEXT NOT NULL,
    -- Sign-in: the phone the code went to. Enrollment: none yet.
    credential_id      UUID REFERENCES credentials (id) ON DELETE CASCADE,
    nickname           TEXT,
    plugin             TEXT NOT NULL,
    -- Codes we generate are kept only as an HMAC (SECURITY.md 2).
    code_mac           BYTEA,
    -- Codes the provider owns: its ids.
    provider_ref       TEXT,
    provider_user_id   TEXT,
    provider_phone_id  TEXT,
    attempts           INT NOT NULL DEFAULT 0,
    sends              INT NOT NULL DEFAULT 0,
    created_at         TIMESTAMPTZ NOT NULL,
    last_sent_at       TIMESTAMPTZ NOT NULL,
    expires_at         TIMESTAMPTZ NOT NULL,
    consumed_at        TIMESTAMPTZ
);
CREATE UNIQUE INDEX otp_challenges_one_open ON otp_challenges (user_id, purpose) WHERE consumed_at IS NULL;

-- Every message sent, for resend caps (and send budgets later).
CREATE TABLE sms_sends (
    id          BIGSERIAL PRIMARY KEY,
    user_id     UUID REFERENCES users (id) ON DELETE SET NULL,
    phone_e164  TEXT NOT NULL,
    ip          TEXT NOT NULL,
    sent_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX sms_sends_phone ON sms_sends (phone_e164, sent_at);

-- Wrong second-factor codes, counted per account per hour (SECURITY.md 8).
CREATE TABLE otp_failures (
    id         BIGSERIAL PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    failed_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX otp_failures_user ON otp_failures (user_id, failed_at);

-- Messages the outbox plugin "sent": read by administrators on the Outbox page.
CREATE TABLE outbox_messages (
    id          BIGSERIAL PRIMARY KEY,
    phone_e164  TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

-- Which plugin handles a method, and each plugin's properties. Read on every
-- request that needs them, so a change applies without a restart.
CREATE TABLE method_settings (
    method   TEXT PRIMARY KEY,
    enabled  BOOLEAN NOT NULL,
    plugin   TEXT NOT NULL
);
INSERT INTO method_settings (method, enabled, plugin) VALUES ('sms', TRUE, 'outbox');

CREATE TABLE plugin_settings (
    plugin      TEXT PRIMARY KEY,
    properties  JSONB NOT NULL DEFAULT '{}'::jsonb
);
