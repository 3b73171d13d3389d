-- Outline revisions (the app reads the newest per project) and key/value settings.
CREATE TABLE talk_outlines (
    id INTEGER PRIMARY KEY,
    project_id TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX idx_talk_outlines_project_updated ON talk_outlines (project_id, updated_at);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
