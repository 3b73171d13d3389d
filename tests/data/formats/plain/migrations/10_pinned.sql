-- 10 sorts before 2 as text; it needs notes (1).
-- Carries its own transaction, as plain files may.
BEGIN;
ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
CREATE INDEX idx_notes_pinned ON notes (created_at) WHERE pinned = 1;
COMMIT;
