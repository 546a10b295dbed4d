-- A new signing key is published before it signs: relying parties that
-- cache the JWKS (it may be cached for five minutes) have it by the time
-- the first token it signed reaches them. The key before it stops signing
-- at that moment (its retired_at), and stays published for two days more.
ALTER TABLE oidc_signing_keys ADD COLUMN signs_from TIMESTAMPTZ;
UPDATE oidc_signing_keys SET signs_from = created_at;
ALTER TABLE oidc_signing_keys ALTER COLUMN signs_from SET NOT NULL;
