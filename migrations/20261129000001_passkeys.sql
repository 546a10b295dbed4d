-- Passkeys and security keys (WebAuthn): one row per credential. The
-- authenticator's credential id belongs to one account only (SECURITY.md
-- 39); `passkey` is webauthn-rs's record of it (the public key, its
-- algorithm, the sign counter), never a private key (40).
CREATE TABLE passkeys (
    credential_id   UUID PRIMARY KEY REFERENCES credentials (id) ON DELETE CASCADE,
    webauthn_id     BYTEA NOT NULL,
    passkey         JSONB NOT NULL,
    -- The authenticator's model (AAGUID), when it says.
    aaguid          UUID,
    -- The highest signature counter seen; one that goes backwards (a
    -- cloned key) is refused (39). Synced passkeys always send 0.
    sign_count      BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT passkeys_webauthn_id_unique UNIQUE (webauthn_id)
);

-- Off until an administrator turns it on: passkeys need TESSERA_PUBLIC_URL
-- to name the site by a domain name (an IP address cannot be a WebAuthn
-- relying party).
INSERT INTO method_settings (method, enabled, plugin) VALUES ('passkey', FALSE, '') ON CONFLICT (method) DO NOTHING;

-- Ceremonies answered: each works once (SECURITY.md 39), even when one
-- answer is sent twice at the same moment. Rows older than a ceremony's
-- five minutes are of no use and are cleared as new ones come.
CREATE TABLE passkey_ceremonies_used (
    id       UUID PRIMARY KEY,
    used_at  TIMESTAMPTZ NOT NULL
);
