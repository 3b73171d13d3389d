-- Training talks are a small minority: a partial index keeps their listing cheap.
ALTER TABLE talk_projects
    ADD COLUMN is_training INTEGER NOT NULL DEFAULT 0 CHECK (is_training IN (0, 1));
CREATE INDEX idx_talk_projects_training ON talk_projects (created_at) WHERE is_training = 1;
