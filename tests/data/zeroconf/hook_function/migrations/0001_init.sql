-- a stored generated column computed by the application's function: every insert calls it
CREATE TABLE pages (id INTEGER PRIMARY KEY, title TEXT NOT NULL,
                    slug TEXT GENERATED ALWAYS AS (slug(title)) STORED);
