-- What happens when an application asks for a method (its acr) the user
-- has no credential of and the account has no other factor: 'refuse' (the
-- application hears unmet_authentication_requirements) or 'enroll' (the
-- person enrolls it during the sign-in).
ALTER TABLE policy ADD COLUMN missing_method TEXT NOT NULL DEFAULT 'refuse'
    CHECK (missing_method IN ('refuse', 'enroll'));
