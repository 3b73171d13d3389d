-- A rebuild that leaves legacy_flag out on purpose: the column goes, by declaration.
CREATE TABLE items_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT);
INSERT INTO items_new (id, name, note) SELECT id, name, note FROM items;
DROP TABLE items;
ALTER TABLE items_new RENAME TO items;
