CREATE TABLE `tags` (
	`id` integer PRIMARY KEY NOT NULL,
	`note_id` integer NOT NULL,
	`label` text NOT NULL,
	FOREIGN KEY (`note_id`) REFERENCES `notes`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `idx_tags_note` ON `tags` (`note_id`);
