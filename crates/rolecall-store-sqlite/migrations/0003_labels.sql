-- Display names of things the engine knows only by id: permission sets (key `group/set`)
-- and policies (key = policy id). Decisions never read this table.
CREATE TABLE labels (
    workspace TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (workspace, kind, key)
);
