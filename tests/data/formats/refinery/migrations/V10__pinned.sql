-- refinery runs each file in a transaction: PRAGMA user_version works inside one.
ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
CREATE INDEX idx_notes_pinned ON notes (created_at) WHERE pinned = 1;
PRAGMA user_version = 10;
