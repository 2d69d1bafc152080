-- Webhooks and their outbox: a delivery row is written in the same transaction as the
-- change it tells about, so nothing is lost across a crash; notifications to users.
CREATE TABLE webhooks (
    workspace TEXT COLLATE "C" NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id TEXT COLLATE "C" NOT NULL,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    events TEXT NOT NULL, -- JSON array of types, `prefix.*` or `*`
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace, id)
);

CREATE TABLE deliveries (
    id BIGSERIAL PRIMARY KEY,
    workspace TEXT COLLATE "C" NOT NULL,
    webhook TEXT COLLATE "C" NOT NULL,
    event TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL, -- pending | delivered | dead
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT NOT NULL DEFAULT 0,
    last_status INTEGER,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    FOREIGN KEY (workspace, webhook) REFERENCES webhooks (workspace, id) ON DELETE CASCADE
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX deliveries_of ON deliveries (workspace, webhook, id);

CREATE TABLE notifications (
    id BIGSERIAL PRIMARY KEY,
    workspace TEXT COLLATE "C" NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    group_id TEXT COLLATE "C",
    reason TEXT NOT NULL,
    revision BIGINT NOT NULL,
    body TEXT NOT NULL,
    at BIGINT NOT NULL
);

-- Who a notification is for: one message may go to many users who were told the same.
CREATE TABLE notification_recipients (
    workspace TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    notification BIGINT NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    PRIMARY KEY (workspace, user_id, notification)
);
