//! The tables the gateway keeps in the instance's database: sources, their
//! user maps, every delivery, and the last state seen of each ticket for
//! helpdesks that send whole tickets instead of events.

/// Migration 1 (see `store.rs`, `MIGRATIONS`).
pub const SOURCES: &str = "
ALTER TABLE operators ADD COLUMN email TEXT;
CREATE UNIQUE INDEX operators_email ON operators (email COLLATE NOCASE) WHERE email IS NOT NULL;
CREATE TABLE sources (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    base_url TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at TEXT NOT NULL,
    secret_set_at TEXT NOT NULL
);
CREATE TABLE source_users (
    source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    external TEXT NOT NULL COLLATE NOCASE,
    login TEXT NOT NULL,
    PRIMARY KEY (source_id, external)
);
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    delivery_id TEXT,
    received_at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT,
    hint TEXT,
    body BLOB,
    processed_at TEXT,
    notifications TEXT NOT NULL DEFAULT '[]'
);
CREATE UNIQUE INDEX deliveries_seen ON deliveries (source_id, delivery_id)
    WHERE delivery_id IS NOT NULL AND outcome IN ('accepted', 'ignored');
CREATE INDEX deliveries_by_source ON deliveries (source_id, id);
CREATE INDEX deliveries_pending ON deliveries (id) WHERE outcome = 'accepted' AND processed_at IS NULL;
CREATE TABLE ticket_states (
    source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    ticket TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (source_id, ticket)
) WITHOUT ROWID;
";
