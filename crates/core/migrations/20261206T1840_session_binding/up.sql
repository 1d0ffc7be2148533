-- Issue 12 items 2–4. Still no secret here: the tokens stay in the keychain.

-- The service a kept session (保持登入狀態) was issued by: its origin, or
-- `sandbox` for the embedded demo. NULL for accounts remembered before
-- sessions were bound: their kept session is never sent anywhere.
ALTER TABLE accounts ADD COLUMN service_origin TEXT;

-- Sessions still to be ended at their service (a sign-out that could not
-- reach it; a shared-device session while it lives). The refresh token
-- itself rests only in the keychain entry "revoke <account> <origin>".
CREATE TABLE pending_revocations (
    account        TEXT NOT NULL,
    service_origin TEXT NOT NULL,
    since          TEXT NOT NULL,
    PRIMARY KEY (account, service_origin)
);
