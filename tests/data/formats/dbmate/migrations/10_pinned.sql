-- migrate:up transaction:false
-- Outside dbmate's transaction, so the file may carry its own.
BEGIN;
ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
CREATE INDEX idx_notes_pinned ON notes (created_at) WHERE pinned = 1;
COMMIT;

-- migrate:down
DROP INDEX idx_notes_pinned;
ALTER TABLE notes DROP COLUMN pinned;
