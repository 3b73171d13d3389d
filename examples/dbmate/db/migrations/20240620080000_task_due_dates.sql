-- migrate:up
ALTER TABLE tasks ADD COLUMN due_at TEXT;
CREATE INDEX tasks_due ON tasks (due_at) WHERE done = 0;

-- migrate:down
DROP INDEX tasks_due;
ALTER TABLE tasks DROP COLUMN due_at;
