-- SQLite cannot drop NOT NULL: rebuild runs (new table, copy, drop, rename, indexes).
CREATE TABLE runs_new (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    audio_path TEXT,
    duration_ms INTEGER,
    transcript TEXT,
    feedback_id TEXT,
    created_at TEXT NOT NULL
);

INSERT INTO runs_new (id, project_id, audio_path, duration_ms, transcript, feedback_id, created_at)
SELECT id, project_id, audio_path, duration_ms, transcript, feedback_id, created_at FROM runs;

DROP TABLE runs;
ALTER TABLE runs_new RENAME TO runs;
CREATE INDEX idx_runs_project_created ON runs (project_id, created_at);
