-- What a person allowed an application that is not first-party to know
-- (the consent screen), remembered so that the next sign-in does not ask
-- again for the same scopes. Revoking the application on the Applications
-- page forgets it.
CREATE TABLE oidc_consents (
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id   TEXT NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    scopes      TEXT[] NOT NULL,
    granted_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX oidc_consents_client ON oidc_consents (client_id);

-- The acr an application gets when it asks for none and its client has no
-- default of its own (Gluu's "Default acr"); `tessera` is the user's own
-- two-factor settings.
ALTER TABLE policy ADD COLUMN default_acr TEXT NOT NULL DEFAULT 'tessera';
