-- The accounts. Usernames are unique (the database enforces it, not a check
-- in the code that two sign-ups could race past); the password is stored only
-- as an Argon2id hash; roles are space-separated names.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    roles         TEXT    NOT NULL DEFAULT 'user',
    created_at    INTEGER NOT NULL DEFAULT (unixepoch())
);
