-- Talk numbers 1..n by creation order (ties broken by id), so every install agrees.
-- A correlated count rather than UPDATE … FROM: that syntax needs SQLite 3.33, and users'
-- system SQLite can be older (Ubuntu 20.04 ships 3.31).
ALTER TABLE talk_projects ADD COLUMN talk_number INTEGER;

UPDATE talk_projects
SET talk_number = (
    SELECT count(*) FROM talk_projects AS earlier
    WHERE earlier.created_at < talk_projects.created_at
       OR (earlier.created_at = talk_projects.created_at AND earlier.id <= talk_projects.id)
);

CREATE UNIQUE INDEX idx_talk_projects_talk_number ON talk_projects (talk_number);
