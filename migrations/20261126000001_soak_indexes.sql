-- Indexes the soak run (scripts/soak) showed missing: queries and foreign-key
-- actions whose cost grew with the tables.

-- The send budgets of one address and one account are counted by index
-- (SECURITY.md 13; one number's already was, sms_sends_phone): reservations
-- wait for each other under one lock, so their cost must not grow with every
-- send of the hour. The country's and the ceiling's budgets share one pass
-- over the hour, which the ceiling bounds.
CREATE INDEX sms_sends_ip ON sms_sends (ip, sent_at);
CREATE INDEX sms_sends_user ON sms_sends (user_id, sent_at);

-- Removing a credential clears it as someone's preferred one and deletes its
-- sign-in challenges (ON DELETE SET NULL / CASCADE): without these, each
-- removal read every user and every challenge.
CREATE INDEX users_preferred_credential ON users (preferred_credential_id);
CREATE INDEX otp_challenges_credential ON otp_challenges (credential_id);

-- A user's activity is what they did or what was done to them: the actor side
-- needs an index too, or the newest-first list walks the whole log.
CREATE INDEX audit_events_actor ON audit_events (actor_id, at DESC);

-- A number's newest outbox message (what the benchmarks and the soak run
-- read the code from) without a scan of the whole outbox.
CREATE INDEX outbox_messages_phone ON outbox_messages (phone_e164, id);
