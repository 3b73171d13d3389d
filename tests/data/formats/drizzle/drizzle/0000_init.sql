CREATE TABLE `notes` (
	`id` integer PRIMARY KEY NOT NULL,
	`body` text NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `idx_notes_created` ON `notes` (`created_at`);
