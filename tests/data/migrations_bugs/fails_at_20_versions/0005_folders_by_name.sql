CREATE INDEX folders_by_name ON folders(name);
