-- value becomes TEXT (35555 is now stored as '35555'), payload becomes a BLOB by CAST.
CREATE TABLE settings_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL, value TEXT, payload BLOB);
INSERT INTO settings_new (id, name, value, payload)
SELECT id, name, value, CAST(payload AS BLOB) FROM settings;
DROP TABLE settings;
ALTER TABLE settings_new RENAME TO settings;
