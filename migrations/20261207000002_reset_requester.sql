-- A reset of two-factor sign-in can be finished only from the browser that
-- asked for it (SECURITY.md 51): the SHA-256 of a random key that browser
-- keeps in a cookie. Resets asked for before have none: nobody's password
-- finishes them (a sign-in with a factor, the link or an administrator
-- still cancels them), and the person asks again.
ALTER TABLE two_factor_resets ADD COLUMN requester_digest BYTEA;
