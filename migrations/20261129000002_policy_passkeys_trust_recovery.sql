-- The policy's settings for issue 16: whether a passkey alone may sign in
-- (SECURITY.md 40: with user verification), how long a trusted browser
-- skips the second factor (41; 0: never offered), and how long a
-- self-service reset of two-factor sign-in waits (0: no self-service reset).
ALTER TABLE policy
    ADD COLUMN passwordless TEXT NOT NULL DEFAULT 'allowed' CHECK (passwordless IN ('allowed', 'forbidden')),
    ADD COLUMN trusted_browser_days INT NOT NULL DEFAULT 30 CHECK (trusted_browser_days BETWEEN 0 AND 365),
    ADD COLUMN recovery_wait_hours INT NOT NULL DEFAULT 24 CHECK (recovery_wait_hours BETWEEN 0 AND 720);
