-- migrate:up
-- Planted bug: the rebuild turns foreign keys off inside dbmate's transaction, where the
-- PRAGMA does nothing, so dropping the old table cascades into tasks.
PRAGMA foreign_keys = OFF;
CREATE TABLE projects_new (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    archived INTEGER NOT NULL DEFAULT 0
);
INSERT INTO projects_new (id, name, archived)
    SELECT id, name || CASE WHEN id IN (SELECT min(id) FROM projects GROUP BY name) THEN '' ELSE ' (' || id || ')' END,
           archived
    FROM projects;
DROP TABLE projects;
ALTER TABLE projects_new RENAME TO projects;
PRAGMA foreign_keys = ON;

-- migrate:down
