-- A chain: calculator_path -> func_path -> function_path; and a table renamed.
ALTER TABLE runs RENAME COLUMN func_path TO function_path;
ALTER TABLE tags RENAME TO labels;
ALTER TABLE labels RENAME COLUMN label TO text;
