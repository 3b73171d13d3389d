-- atlas:txmode none

-- Runs without Atlas's transaction, so it may carry its own.
BEGIN;
ALTER TABLE `notes` ADD COLUMN `pinned` integer NOT NULL DEFAULT 0;
CREATE INDEX `idx_notes_pinned` ON `notes` (`created_at`) WHERE pinned = 1;
COMMIT;
