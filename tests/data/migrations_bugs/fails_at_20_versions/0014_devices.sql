CREATE TABLE devices (
    id INTEGER PRIMARY KEY,
    label TEXT NOT NULL
);
