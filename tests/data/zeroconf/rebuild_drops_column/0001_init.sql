CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, legacy_flag TEXT, note TEXT);
