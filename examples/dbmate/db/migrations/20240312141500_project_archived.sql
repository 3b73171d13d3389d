-- migrate:up
ALTER TABLE projects ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;

-- migrate:down
ALTER TABLE projects DROP COLUMN archived;
