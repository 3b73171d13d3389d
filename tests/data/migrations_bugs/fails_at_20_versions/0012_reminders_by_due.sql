CREATE INDEX reminders_by_due ON reminders(due_at);
