-- Create "notes" table
CREATE TABLE `notes` (`id` integer NOT NULL, `body` text NOT NULL, `created_at` text NOT NULL, PRIMARY KEY (`id`));
-- Create index "idx_notes_created" to table: "notes"
CREATE INDEX `idx_notes_created` ON `notes` (`created_at`);
