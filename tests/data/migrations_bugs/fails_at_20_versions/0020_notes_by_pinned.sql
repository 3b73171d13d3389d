CREATE INDEX notes_by_pinned ON notes(pinned);
