-- json_array_length() raises "malformed JSON" (an OperationalError) for text that is not JSON.
CREATE TABLE docs (id INTEGER PRIMARY KEY, title TEXT NOT NULL,
                   tags TEXT NOT NULL CHECK (json_array_length(tags) >= 0));
