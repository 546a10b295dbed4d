-- Recovery codes (NIST look-up secrets): a set is one credential of method
-- `recovery_code`; each code is a row, kept only as a keyed hash
-- (SECURITY.md 37), used at most once.
CREATE TABLE recovery_codes (
    id             BIGSERIAL PRIMARY KEY,
    credential_id  UUID NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    code_mac       BYTEA NOT NULL,
    used_at        TIMESTAMPTZ,
    CONSTRAINT recovery_codes_unique UNIQUE (credential_id, code_mac)
);

INSERT INTO method_settings (method, enabled, plugin) VALUES ('recovery_code', TRUE, '') ON CONFLICT (method) DO NOTHING;

-- The policy's sections for the new methods: clock drift accepted for app
-- codes (SECURITY.md 35: at most one step) and codes in a recovery set (37:
-- at least ten).
ALTER TABLE policy
    ADD COLUMN totp_drift_steps INT NOT NULL DEFAULT 1 CHECK (totp_drift_steps BETWEEN 0 AND 1),
    ADD COLUMN recovery_code_count INT NOT NULL DEFAULT 10 CHECK (recovery_code_count BETWEEN 10 AND 20);
