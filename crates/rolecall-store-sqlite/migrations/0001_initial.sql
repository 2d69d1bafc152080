-- The change log is the source of truth for the engine; directory tables serve listings.
CREATE TABLE change_log (
    revision INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace TEXT NOT NULL,
    change TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX change_log_by_workspace ON change_log (workspace, revision);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    revision INTEGER NOT NULL,
    workspace TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before TEXT,
    after TEXT,
    at INTEGER NOT NULL
);
CREATE INDEX audit_by_workspace ON audit_log (workspace, id);

CREATE TABLE workspaces (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    schema TEXT NOT NULL
);

CREATE TABLE users (
    workspace TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,
    name TEXT NOT NULL,
    workspace_role TEXT NOT NULL,
    kind TEXT NOT NULL,
    last_active_at INTEGER,
    PRIMARY KEY (workspace, id),
    UNIQUE (workspace, email_key)
);

CREATE TABLE groups (
    workspace TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    description TEXT NOT NULL,
    tags TEXT NOT NULL,
    icon TEXT,
    visibility TEXT NOT NULL,
    apply_privileges INTEGER NOT NULL,
    notify TEXT NOT NULL,
    PRIMARY KEY (workspace, id),
    UNIQUE (workspace, name_key)
);
