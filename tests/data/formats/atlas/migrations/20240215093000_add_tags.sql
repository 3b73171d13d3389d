-- Create "tags" table
CREATE TABLE `tags` (`id` integer NOT NULL, `note_id` integer NOT NULL, `label` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `0` FOREIGN KEY (`note_id`) REFERENCES `notes` (`id`) ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create index "idx_tags_note" to table: "tags"
CREATE INDEX `idx_tags_note` ON `tags` (`note_id`);
