-- metadata.toml: run_in_transaction = false, so the file may carry its own transaction.
BEGIN;
ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
CREATE INDEX idx_notes_pinned ON notes (created_at) WHERE pinned = 1;
COMMIT;
