-- reference: foreign_keys=off
-- Declare the relations the app always assumed, with explicit ON DELETE / ON UPDATE actions.
-- Rows are never dropped: a child whose required parent is missing moves to a placeholder
-- parent ("Recovered items", created only when needed); a dangling optional reference
-- becomes NULL. Every child table is then rebuilt (SQLite cannot add a FOREIGN KEY to an
-- existing table) and its indexes recreated, plus one index per foreign-key column.

INSERT INTO talk_projects (id, title, created_at, updated_at, is_training, talk_number)
SELECT 'recovered-items', 'Recovered items',
       strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 0,
       COALESCE((SELECT MAX(talk_number) FROM talk_projects), 0) + 1
WHERE NOT EXISTS (SELECT 1 FROM talk_projects WHERE id = 'recovered-items')
  AND (EXISTS (SELECT 1 FROM talk_outlines c
               WHERE NOT EXISTS (SELECT 1 FROM talk_projects p WHERE p.id = c.project_id))
       OR EXISTS (SELECT 1 FROM runs c
                  WHERE NOT EXISTS (SELECT 1 FROM talk_projects p WHERE p.id = c.project_id))
       OR EXISTS (SELECT 1 FROM quest_attempts c
                  WHERE NOT EXISTS (SELECT 1 FROM talk_projects p WHERE p.id = c.project_id))
       OR EXISTS (SELECT 1 FROM auto_feedback c
                  WHERE NOT EXISTS (SELECT 1 FROM talk_projects p WHERE p.id = c.project_id))
       OR EXISTS (SELECT 1 FROM feedback_notes c
                  WHERE NOT EXISTS (SELECT 1 FROM talk_projects p WHERE p.id = c.project_id))
       OR EXISTS (SELECT 1 FROM peer_reviews c
                  WHERE NOT EXISTS (SELECT 1 FROM talk_projects p WHERE p.id = c.project_id)));

UPDATE talk_outlines SET project_id = 'recovered-items'
WHERE NOT EXISTS (SELECT 1 FROM talk_projects p WHERE p.id = talk_outlines.project_id);
UPDATE runs SET project_id = 'recovered-items'
WHERE NOT EXISTS (SELECT 1 FROM talk_projects p WHERE p.id = runs.project_id);
UPDATE quest_attempts SET project_id = 'recovered-items'
WHERE NOT EXISTS (SELECT 1 FROM talk_projects p WHERE p.id = quest_attempts.project_id);
UPDATE auto_feedback SET project_id = 'recovered-items'
WHERE NOT EXISTS (SELECT 1 FROM talk_projects p WHERE p.id = auto_feedback.project_id);
UPDATE feedback_notes SET project_id = 'recovered-items'
WHERE NOT EXISTS (SELECT 1 FROM talk_projects p WHERE p.id = feedback_notes.project_id);
UPDATE peer_reviews SET project_id = 'recovered-items'
WHERE NOT EXISTS (SELECT 1 FROM talk_projects p WHERE p.id = peer_reviews.project_id);

INSERT INTO quests (id, title, category, prompt, duration_sec, created_at)
SELECT 'recovered-quest', 'Recovered quest', 'recovered', '', 60, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
WHERE NOT EXISTS (SELECT 1 FROM quests WHERE id = 'recovered-quest')
  AND EXISTS (SELECT 1 FROM quest_attempts c
              WHERE NOT EXISTS (SELECT 1 FROM quests q WHERE q.id = c.quest_id));
UPDATE quest_attempts SET quest_id = 'recovered-quest'
WHERE NOT EXISTS (SELECT 1 FROM quests q WHERE q.id = quest_attempts.quest_id);

UPDATE runs SET feedback_id = NULL
WHERE feedback_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM auto_feedback f WHERE f.id = runs.feedback_id);
UPDATE quest_attempts SET feedback_id = NULL
WHERE feedback_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM auto_feedback f WHERE f.id = quest_attempts.feedback_id);
UPDATE feedback_notes SET run_id = NULL
WHERE run_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = feedback_notes.run_id);
UPDATE peer_reviews SET run_id = NULL
WHERE run_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = peer_reviews.run_id);
UPDATE active_state SET project_id = NULL
WHERE project_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM talk_projects p WHERE p.id = active_state.project_id);

CREATE TABLE talk_outlines_new (
    id INTEGER PRIMARY KEY,
    project_id TEXT NOT NULL
        REFERENCES talk_projects (id) ON DELETE CASCADE ON UPDATE CASCADE,
    body TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
INSERT INTO talk_outlines_new (id, project_id, body, updated_at)
SELECT id, project_id, body, updated_at FROM talk_outlines;
DROP TABLE talk_outlines;
ALTER TABLE talk_outlines_new RENAME TO talk_outlines;
CREATE INDEX idx_talk_outlines_project_updated ON talk_outlines (project_id, updated_at);

CREATE TABLE auto_feedback_new (
    id TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL
        REFERENCES talk_projects (id) ON DELETE CASCADE ON UPDATE CASCADE,
    summary TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL
);
INSERT INTO auto_feedback_new (id, project_id, summary, payload, created_at)
SELECT id, project_id, summary, payload, created_at FROM auto_feedback;
DROP TABLE auto_feedback;
ALTER TABLE auto_feedback_new RENAME TO auto_feedback;
CREATE INDEX idx_auto_feedback_project_created ON auto_feedback (project_id, created_at);

CREATE TABLE runs_new (
    id TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL
        REFERENCES talk_projects (id) ON DELETE CASCADE ON UPDATE CASCADE,
    audio_path TEXT,
    duration_ms INTEGER,
    transcript TEXT,
    feedback_id TEXT
        REFERENCES auto_feedback (id) ON DELETE SET NULL ON UPDATE CASCADE,
    created_at TEXT NOT NULL
);
INSERT INTO runs_new (id, project_id, audio_path, duration_ms, transcript, feedback_id, created_at)
SELECT id, project_id, audio_path, duration_ms, transcript, feedback_id, created_at FROM runs;
DROP TABLE runs;
ALTER TABLE runs_new RENAME TO runs;
CREATE INDEX idx_runs_project_created ON runs (project_id, created_at);
CREATE INDEX idx_runs_feedback ON runs (feedback_id);

CREATE TABLE quest_attempts_new (
    id TEXT PRIMARY KEY NOT NULL,
    quest_id TEXT NOT NULL
        REFERENCES quests (id) ON DELETE RESTRICT ON UPDATE CASCADE,
    project_id TEXT NOT NULL
        REFERENCES talk_projects (id) ON DELETE CASCADE ON UPDATE CASCADE,
    audio_path TEXT,
    transcript TEXT,
    feedback_id TEXT
        REFERENCES auto_feedback (id) ON DELETE SET NULL ON UPDATE CASCADE,
    created_at TEXT NOT NULL
);
INSERT INTO quest_attempts_new (id, quest_id, project_id, audio_path, transcript, feedback_id, created_at)
SELECT id, quest_id, project_id, audio_path, transcript, feedback_id, created_at FROM quest_attempts;
DROP TABLE quest_attempts;
ALTER TABLE quest_attempts_new RENAME TO quest_attempts;
CREATE INDEX idx_quest_attempts_quest_created ON quest_attempts (quest_id, created_at);
CREATE INDEX idx_quest_attempts_project_created ON quest_attempts (project_id, created_at);
CREATE INDEX idx_quest_attempts_feedback ON quest_attempts (feedback_id);

CREATE TABLE feedback_notes_new (
    id TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL
        REFERENCES talk_projects (id) ON DELETE CASCADE ON UPDATE CASCADE,
    run_id TEXT
        REFERENCES runs (id) ON DELETE SET NULL ON UPDATE CASCADE,
    at_ms INTEGER,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
INSERT INTO feedback_notes_new (id, project_id, run_id, at_ms, body, created_at)
SELECT id, project_id, run_id, at_ms, body, created_at FROM feedback_notes;
DROP TABLE feedback_notes;
ALTER TABLE feedback_notes_new RENAME TO feedback_notes;
CREATE INDEX idx_feedback_notes_project_created ON feedback_notes (project_id, created_at);
CREATE INDEX idx_feedback_notes_run ON feedback_notes (run_id);

CREATE TABLE peer_reviews_new (
    id TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL
        REFERENCES talk_projects (id) ON DELETE CASCADE ON UPDATE CASCADE,
    run_id TEXT
        REFERENCES runs (id) ON DELETE SET NULL ON UPDATE CASCADE,
    reviewer TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL
);
INSERT INTO peer_reviews_new (id, project_id, run_id, reviewer, payload, created_at)
SELECT id, project_id, run_id, reviewer, payload, created_at FROM peer_reviews;
DROP TABLE peer_reviews;
ALTER TABLE peer_reviews_new RENAME TO peer_reviews;
CREATE INDEX idx_peer_reviews_project_created ON peer_reviews (project_id, created_at);
CREATE INDEX idx_peer_reviews_run ON peer_reviews (run_id);

CREATE TABLE active_state_new (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    project_id TEXT
        REFERENCES talk_projects (id) ON DELETE SET NULL ON UPDATE CASCADE,
    updated_at TEXT NOT NULL
);
INSERT INTO active_state_new (id, project_id, updated_at)
SELECT id, project_id, updated_at FROM active_state;
DROP TABLE active_state;
ALTER TABLE active_state_new RENAME TO active_state;
CREATE INDEX idx_active_state_project ON active_state (project_id);
