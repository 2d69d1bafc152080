-- Rolecall on PostgreSQL: the same tables as the SQLite store. Ids compare byte-wise
-- (COLLATE "C") so listings page in the same order on every backend.

-- The head of the change log: one row, locked by every commit, so revisions are
-- consecutive whatever the number of writers.
CREATE TABLE log_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL
);
INSERT INTO log_head (id, revision) VALUES (1, 0);

CREATE TABLE change_log (
    revision BIGINT PRIMARY KEY,
    workspace TEXT COLLATE "C" NOT NULL,
    change TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX change_log_by_workspace ON change_log (workspace, revision);

CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    revision BIGINT NOT NULL,
    workspace TEXT COLLATE "C" NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before TEXT,
    after TEXT,
    at BIGINT NOT NULL
);
CREATE INDEX audit_by_workspace ON audit_log (workspace, id);

CREATE TABLE workspaces (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    schema TEXT NOT NULL
);

CREATE TABLE users (
    workspace TEXT COLLATE "C" NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id TEXT COLLATE "C" NOT NULL,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,
    name TEXT NOT NULL,
    workspace_role TEXT NOT NULL,
    kind TEXT NOT NULL,
    last_active_at BIGINT,
    PRIMARY KEY (workspace, id),
    UNIQUE (workspace, email_key)
);

CREATE TABLE groups (
    workspace TEXT COLLATE "C" NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id TEXT COLLATE "C" NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    description TEXT NOT NULL,
    tags TEXT[] NOT NULL,
    icon TEXT,
    visibility TEXT NOT NULL,
    apply_privileges BOOLEAN NOT NULL,
    notify TEXT NOT NULL,
    PRIMARY KEY (workspace, id),
    UNIQUE (workspace, name_key)
);

CREATE TABLE resources (
    workspace TEXT COLLATE "C" NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    type TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    name TEXT NOT NULL,
    parent_type TEXT,
    parent_id TEXT,
    PRIMARY KEY (workspace, type, id)
);

CREATE TABLE grants (
    workspace TEXT COLLATE "C" NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    type TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id TEXT COLLATE "C" NOT NULL,
    role TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace, type, id, subject_kind, subject_id)
);
CREATE INDEX grants_by_subject ON grants (workspace, subject_kind, subject_id);

CREATE TABLE api_keys (
    workspace TEXT COLLATE "C" NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id TEXT COLLATE "C" NOT NULL,
    name TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace, id)
);

CREATE TABLE labels (
    workspace TEXT COLLATE "C" NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (workspace, kind, key)
);
