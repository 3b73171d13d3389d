CREATE TABLE sync_state (
    id INTEGER PRIMARY KEY,
    cursor TEXT NOT NULL DEFAULT ''
);
