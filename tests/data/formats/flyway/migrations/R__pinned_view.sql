-- Repeatable: runs after the versioned migrations, again whenever it changes.
DROP VIEW IF EXISTS pinned_notes;
CREATE VIEW pinned_notes AS SELECT id, body FROM notes WHERE pinned = 1;
