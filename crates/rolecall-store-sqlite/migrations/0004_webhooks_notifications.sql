-- Webhooks and their outbox: a delivery row is written in the same transaction as the
-- change it tells about, so nothing is lost across a crash; notifications to users.
CREATE TABLE webhooks (
    workspace TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    events TEXT NOT NULL, -- JSON array of types, `prefix.*` or `*`
    created_at INTEGER NOT NULL,
    PRIMARY KEY (workspace, id)
);

CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace TEXT NOT NULL,
    webhook TEXT NOT NULL,
    event TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL, -- pending | delivered | dead
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until INTEGER NOT NULL DEFAULT 0,
    last_status INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    FOREIGN KEY (workspace, webhook) REFERENCES webhooks (workspace, id) ON DELETE CASCADE
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX deliveries_of ON deliveries (workspace, webhook, id);

CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    group_id TEXT,
    reason TEXT NOT NULL,
    revision INTEGER NOT NULL,
    body TEXT NOT NULL,
    at INTEGER NOT NULL
);

-- Who a notification is for: one message may go to many users who were told the same.
CREATE TABLE notification_recipients (
    workspace TEXT NOT NULL,
    user_id TEXT NOT NULL,
    notification INTEGER NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    PRIMARY KEY (workspace, user_id, notification)
) WITHOUT ROWID;
