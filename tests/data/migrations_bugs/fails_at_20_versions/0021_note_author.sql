-- Every note gets an author: a rebuild that adds the NOT NULL column but never fills it.
CREATE TABLE notes_new (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    body TEXT,
    pinned INTEGER NOT NULL DEFAULT 0,
    folder_id INTEGER REFERENCES folders(id),
    archived INTEGER NOT NULL DEFAULT 0,
    word_count INTEGER NOT NULL DEFAULT 0,
    author TEXT NOT NULL
);
INSERT INTO notes_new (id, title, body, pinned, folder_id, archived, word_count, author)
SELECT id, title, body, pinned, folder_id, archived, word_count, NULL FROM notes;
DROP TABLE notes;
ALTER TABLE notes_new RENAME TO notes;
CREATE INDEX notes_by_title ON notes(title);
CREATE INDEX notes_by_pinned ON notes(pinned);
