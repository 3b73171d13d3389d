-- +goose Up
CREATE TABLE tags (id INTEGER PRIMARY KEY, note_id INTEGER NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
                   label TEXT NOT NULL);
CREATE INDEX idx_tags_note ON tags (note_id);

-- +goose StatementBegin
CREATE TRIGGER tags_touch_note AFTER INSERT ON tags
BEGIN
    UPDATE notes SET created_at = datetime('now') WHERE id = new.note_id;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER tags_touch_note;
DROP TABLE tags;
