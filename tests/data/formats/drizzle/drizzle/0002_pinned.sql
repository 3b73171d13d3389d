ALTER TABLE `notes` ADD `pinned` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `idx_notes_pinned` ON `notes` (`created_at`) WHERE "notes"."pinned" = 1;
