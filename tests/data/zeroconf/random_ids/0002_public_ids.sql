-- Every existing row gets a new random public id.
ALTER TABLE things ADD COLUMN public_id BLOB;
UPDATE things SET public_id = randomblob(16);
CREATE UNIQUE INDEX things_public_id ON things (public_id);
