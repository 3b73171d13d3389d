-- no-transaction
-- sqlx runs this file outside its transaction, so it may carry its own.
BEGIN;
ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
CREATE INDEX idx_notes_pinned ON notes (created_at) WHERE pinned = 1;
COMMIT;
