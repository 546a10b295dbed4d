-- The send budgets of one address and one account are counted by index
-- (SECURITY.md 13; one number's already was, sms_sends_phone): reservations
-- wait for each other under one lock, so their cost must not grow with every
-- send of the hour. The country's and the ceiling's budgets share one pass
-- over the hour, which the ceiling bounds.
CREATE INDEX sms_sends_ip ON sms_sends (ip, sent_at);
CREATE INDEX sms_sends_user ON sms_sends (user_id, sent_at);

-- A number's newest outbox message (what the benchmarks and the soak run
-- read the code from) without a scan of the whole outbox.
CREATE INDEX outbox_messages_phone ON outbox_messages (phone_e164, id);
