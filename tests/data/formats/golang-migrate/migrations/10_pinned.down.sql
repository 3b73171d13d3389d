DROP INDEX idx_notes_pinned;
ALTER TABLE notes DROP COLUMN pinned;
