CREATE INDEX attachments_by_name ON attachments(file_name);
