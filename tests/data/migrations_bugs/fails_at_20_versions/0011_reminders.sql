CREATE TABLE reminders (
    id INTEGER PRIMARY KEY,
    due_at TEXT NOT NULL
);
