-- What SCIM clients write about users and groups beyond Rolecall's own columns. A row goes
-- with its user or group.
CREATE TABLE scim_users (
    workspace TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    user_name TEXT NOT NULL,
    user_name_key TEXT NOT NULL,
    external_id TEXT,
    attributes TEXT NOT NULL, -- JSON object: the other attributes as the client wrote them
    PRIMARY KEY (workspace, id),
    UNIQUE (workspace, user_name_key),
    FOREIGN KEY (workspace, id) REFERENCES users (workspace, id) ON DELETE CASCADE
);
CREATE INDEX scim_users_by_external_id ON scim_users (workspace, external_id);

CREATE TABLE scim_groups (
    workspace TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    external_id TEXT,
    PRIMARY KEY (workspace, id),
    FOREIGN KEY (workspace, id) REFERENCES groups (workspace, id) ON DELETE CASCADE
);
