-- The app's local state. No secret is ever stored here: no password, token,
-- authorization code or PKCE verifier (only the OS keychain holds a token).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- Accounts known on this device (no secrets): for switching and status.
CREATE TABLE accounts (
    account        TEXT PRIMARY KEY NOT NULL, -- Education Cloud e-mail
    display_name   TEXT,
    county         TEXT,
    method         TEXT NOT NULL,             -- 'county' | 'password'
    stay_signed_in INTEGER NOT NULL DEFAULT 0,
    last_signed_in TEXT NOT NULL
);

-- Registration drafts (never passwords, never county tokens).
CREATE TABLE drafts (
    kind       TEXT PRIMARY KEY NOT NULL,     -- one draft per wizard
    data       TEXT NOT NULL,                 -- JSON
    updated_at TEXT NOT NULL
);

-- Cached documents (service configuration, discovery, JWKS) with expiry.
CREATE TABLE cache (
    key        TEXT PRIMARY KEY NOT NULL,
    value      TEXT NOT NULL,
    expires_at INTEGER NOT NULL               -- unix seconds
);

CREATE TABLE sign_in_history (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      TEXT NOT NULL,
    method  TEXT NOT NULL,
    county  TEXT,
    account TEXT,
    outcome TEXT NOT NULL                     -- 'ok' or an error code
);
