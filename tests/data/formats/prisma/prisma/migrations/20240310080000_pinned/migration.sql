-- RedefineTables: the rebuild Prisma writes for a new NOT NULL column. Prisma runs the file
-- without a transaction, so foreign_keys=OFF takes effect and tags keep their rows.
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_notes" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "body" TEXT NOT NULL,
    "created_at" TEXT NOT NULL,
    "pinned" INTEGER NOT NULL DEFAULT 0
);
INSERT INTO "new_notes" ("body", "created_at", "id") SELECT "body", "created_at", "id" FROM "notes";
DROP TABLE "notes";
ALTER TABLE "new_notes" RENAME TO "notes";
CREATE INDEX "idx_notes_created" ON "notes"("created_at");
CREATE INDEX "idx_notes_pinned" ON "notes"("created_at") WHERE "pinned" = 1;
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
