-- Talk numbers 1..n by creation order (ties broken by id), so every install agrees.
ALTER TABLE talk_projects ADD COLUMN talk_number INTEGER;

UPDATE talk_projects
SET talk_number = numbered.n
FROM (
    SELECT id, ROW_NUMBER() OVER (ORDER BY created_at, id) AS n
    FROM talk_projects
) AS numbered
WHERE numbered.id = talk_projects.id;

CREATE UNIQUE INDEX idx_talk_projects_talk_number ON talk_projects (talk_number);
