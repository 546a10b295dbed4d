-- Back-channel logout (OpenID Connect Back-Channel Logout 1.0, SECURITY.md
-- 58). A client may name where it is told of a sign-out.
ALTER TABLE oidc_clients ADD COLUMN backchannel_logout_uri TEXT;

-- Logout notices owed to clients: written in the transaction that revoked
-- the tokens they concern, so a sign-out and its notices commit together
-- and survive a restart. A notice holds no token (one is signed as it is
-- sent); it is deleted once the client accepts it, after its last attempt,
-- or when the queue is over its bound (the oldest first).
CREATE TABLE oidc_logout_notices (
    id              BIGSERIAL PRIMARY KEY,
    client_id       TEXT NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    user_id         UUID NOT NULL,
    -- The browser session signed out (the ID tokens' `sid`); none for the
    -- password grant's tokens, which came from no session.
    session_id      UUID,
    created_at      TIMESTAMPTZ NOT NULL,
    attempts        INT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error      TEXT
);
CREATE INDEX oidc_logout_notices_due ON oidc_logout_notices (next_attempt_at);
CREATE INDEX oidc_logout_notices_client ON oidc_logout_notices (client_id);
