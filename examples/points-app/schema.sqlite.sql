-- Seed 000's points app as Prisma creates it on SQLite: the same tables as schema.sql
-- (quoted names, client-side ids NOT NULL without a default); the payload is JSON text.
CREATE TABLE "User" (
    id          text PRIMARY KEY NOT NULL,
    email       text NOT NULL UNIQUE,
    name        text NOT NULL,
    persona     text NOT NULL,
    points      integer NOT NULL DEFAULT 0,
    "createdAt" datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" datetime NOT NULL
);

CREATE TABLE "BehaviorLog" (
    id          text PRIMARY KEY NOT NULL,
    "userId"    text NOT NULL REFERENCES "User"(id) ON DELETE RESTRICT,
    action      text NOT NULL,
    payload     text NOT NULL CHECK (json_valid(payload)),
    "createdAt" datetime NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX "BehaviorLog_userId_createdAt_idx" ON "BehaviorLog"("userId", "createdAt");
CREATE INDEX "BehaviorLog_action_idx" ON "BehaviorLog"(action);
