-- "This wasn't me": every security notification carries a link (a 256-bit
-- token, kept only as its SHA-256) that, after the owner signs in, ends
-- every other session, forgets trusted browsers, cancels a waiting reset
-- and flags the account for the administrators.
ALTER TABLE notifications
    ADD COLUMN not_me_hash BYTEA,
    ADD COLUMN not_me_used_at TIMESTAMPTZ,
    ADD CONSTRAINT notifications_not_me_unique UNIQUE (not_me_hash);

-- One open flag per account, until an administrator clears it. `how`:
-- secured (the owner signed in and secured the account) or reported (the
-- link's holder could not sign in and told the administrators).
CREATE TABLE account_flags (
    user_id          UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    raised_at        TIMESTAMPTZ NOT NULL,
    how              TEXT NOT NULL CHECK (how IN ('secured', 'reported')),
    notification_id  BIGINT REFERENCES notifications (id) ON DELETE SET NULL,
    ip               TEXT NOT NULL
);
CREATE INDEX account_flags_notification ON account_flags (notification_id);
