-- PKCE is required of every client unless an administrator lets an old
-- confidential client without it off (RFC 9700 2.1.1). Existing clients
-- are held to it too: the README's upgrade note says how to opt one out.
ALTER TABLE oidc_clients ADD COLUMN pkce_optional BOOLEAN NOT NULL DEFAULT false;
