CREATE TABLE attachments (
    id INTEGER PRIMARY KEY,
    file_name TEXT NOT NULL,
    size INTEGER NOT NULL DEFAULT 0
);
