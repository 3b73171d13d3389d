-- value has no declared type: it stores integers, reals and text as given.
CREATE TABLE settings (id INTEGER PRIMARY KEY, name TEXT NOT NULL, value, payload TEXT);
