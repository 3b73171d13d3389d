CREATE TABLE tags (id INTEGER PRIMARY KEY, note_id INTEGER NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
                   label TEXT NOT NULL);
CREATE INDEX idx_tags_note ON tags (note_id);
