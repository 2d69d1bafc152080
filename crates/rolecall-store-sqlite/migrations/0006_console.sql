-- The web console: users' passwords (Argon2id PHC strings) and signed-in sessions (the
-- hash of each session's token, never the token). Both go with their user.
CREATE TABLE passwords (
    workspace TEXT NOT NULL,
    id TEXT NOT NULL,
    hash TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (workspace, id),
    FOREIGN KEY (workspace, id) REFERENCES users (workspace, id) ON DELETE CASCADE
);

CREATE TABLE sessions (
    hash TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    user_id TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    FOREIGN KEY (workspace, user_id) REFERENCES users (workspace, id) ON DELETE CASCADE
);
CREATE INDEX sessions_of ON sessions (workspace, user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
