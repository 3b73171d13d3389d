-- Rebuild posts so that every post has an author. The INNER JOIN silently leaves out every
-- post whose author_name matches no author: those rows are lost.
CREATE TABLE posts_new (id INTEGER PRIMARY KEY, author_name TEXT NOT NULL, body TEXT NOT NULL);
INSERT INTO posts_new (id, author_name, body)
SELECT posts.id, posts.author_name, posts.body
FROM posts JOIN authors ON authors.name = posts.author_name;
DROP TABLE posts;
ALTER TABLE posts_new RENAME TO posts;
