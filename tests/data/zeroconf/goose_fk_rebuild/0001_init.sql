-- +goose Up
CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE child (id INTEGER PRIMARY KEY,
                    parent_id INTEGER NOT NULL REFERENCES parent (id) ON DELETE CASCADE,
                    note TEXT);

-- +goose Down
DROP TABLE child;
DROP TABLE parent;
