-- An unfinished authenticator-app setup belongs to the browser session that
-- started it (SECURITY.md 52): the digest of a random key that session
-- keeps. Setups started before have no owner; they lapse (ten minutes) and
-- are dropped here instead.
DELETE FROM totp_enrollments;
ALTER TABLE totp_enrollments ADD COLUMN owner_digest BYTEA NOT NULL;
