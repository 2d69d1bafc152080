CREATE TABLE resources (
    workspace TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    parent_type TEXT,
    parent_id TEXT,
    PRIMARY KEY (workspace, type, id)
);

-- Grants as rules (seed 003): listed per resource with the subject's name, searchable and
-- sortable. Decisions never read this table.
CREATE TABLE grants (
    workspace TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    role TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (workspace, type, id, subject_kind, subject_id)
);
CREATE INDEX grants_by_subject ON grants (workspace, subject_kind, subject_id);

CREATE TABLE api_keys (
    workspace TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (workspace, id)
);
