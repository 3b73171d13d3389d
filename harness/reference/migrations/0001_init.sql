-- The profile database as the legacy app created it: no foreign keys declared.
CREATE TABLE talk_projects (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    audience TEXT,
    target_duration_sec INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    audio_path TEXT NOT NULL,
    duration_ms INTEGER,
    transcript TEXT,
    feedback_id TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX idx_runs_project_created ON runs (project_id, created_at);

CREATE TABLE quests (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    category TEXT NOT NULL,
    prompt TEXT NOT NULL,
    duration_sec INTEGER NOT NULL DEFAULT 60,
    created_at TEXT NOT NULL
);

CREATE TABLE quest_attempts (
    id TEXT PRIMARY KEY,
    quest_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    audio_path TEXT,
    transcript TEXT,
    feedback_id TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX idx_quest_attempts_quest_created ON quest_attempts (quest_id, created_at);

CREATE TABLE auto_feedback (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    summary TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE feedback_notes (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    run_id TEXT,
    at_ms INTEGER,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE peer_reviews (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    run_id TEXT,
    reviewer TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE active_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    project_id TEXT,
    updated_at TEXT NOT NULL
);
