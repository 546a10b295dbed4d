-- Codes the password grant sends have a challenge of their own (purpose
-- 'token_login'), so that one can never replace the code a person is typing
-- in a browser sign-in (SECURITY.md 53).
ALTER TABLE otp_challenges DROP CONSTRAINT otp_challenges_purpose_check;
ALTER TABLE otp_challenges ADD CONSTRAINT otp_challenges_purpose_check
    CHECK (purpose IN ('enroll', 'login', 'token_login'));
