-- The administration console: versioned settings (two admins cannot
-- silently overwrite each other), sealed provider secrets, the 2FA policy,
-- locked accounts and the audit log.

ALTER TABLE method_settings ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

-- Secret properties leave `properties` for `sealed`: an AEAD box (nonce and
-- ciphertext) of their JSON, keyed from TESSERA_SECRET_KEY (SECURITY.md 28).
ALTER TABLE plugin_settings ADD COLUMN sealed BYTEA;
ALTER TABLE plugin_settings ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

-- A locked account cannot sign in, and its sessions stop working.
ALTER TABLE users ADD COLUMN locked_at TIMESTAMPTZ;

-- The 2FA policy: one row.
CREATE TABLE policy (
    id                    BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
    min_credentials       INT NOT NULL DEFAULT 1 CHECK (min_credentials BETWEEN 1 AND 5),
    code_digits           INT NOT NULL DEFAULT 6 CHECK (code_digits BETWEEN 6 AND 10),
    code_lifetime_secs    INT NOT NULL DEFAULT 300 CHECK (code_lifetime_secs BETWEEN 60 AND 600),
    max_attempts          INT NOT NULL DEFAULT 5 CHECK (max_attempts BETWEEN 1 AND 10),
    resend_cooldown_secs  INT NOT NULL DEFAULT 30 CHECK (resend_cooldown_secs BETWEEN 1 AND 600),
    max_sends_per_number  INT NOT NULL DEFAULT 5 CHECK (max_sends_per_number BETWEEN 1 AND 50),
    -- ISO 3166 region codes a code may be sent to; empty means every country.
    allowed_countries     TEXT[] NOT NULL DEFAULT '{}',
    mode                  TEXT NOT NULL DEFAULT 'optional' CHECK (mode IN ('optional', 'mandatory')),
    default_method        TEXT NOT NULL DEFAULT 'sms',
    version               BIGINT NOT NULL DEFAULT 1
);
INSERT INTO policy DEFAULT VALUES;

-- Every security event, kept for administrators (and each user's own).
CREATE TABLE audit_events (
    id          BIGSERIAL PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    event       TEXT NOT NULL,
    actor_id    UUID,
    actor       TEXT,
    subject_id  UUID,
    subject     TEXT,
    ip          TEXT,
    user_agent  TEXT,
    -- What changed: {"before": ..., "after": ...} or other facts; never secrets.
    details     JSONB NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_events_at ON audit_events (at DESC, id DESC);
CREATE INDEX audit_events_subject ON audit_events (subject_id, at DESC);
CREATE INDEX audit_events_event ON audit_events (event, at DESC);
