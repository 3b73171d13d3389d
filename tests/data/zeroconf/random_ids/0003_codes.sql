ALTER TABLE things ADD COLUMN code INTEGER;
UPDATE things SET code = abs(random()) % 1000000;
