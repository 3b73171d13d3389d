ALTER TABLE runs RENAME COLUMN calculator_path TO func_path;
