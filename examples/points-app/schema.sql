-- Seed 000's points app as Prisma writes its tables (PostgreSQL): quoted names, a JSONB
-- behaviour log, ids filled by the client (`@default(uuid())` and `@default(cuid())`
-- are Prisma's, not the database's: NOT NULL without a default), `@updatedAt` (the same),
-- and `User.points` kept by the app as the user's balance: `points.earned` less `points.redeemed`.
CREATE TABLE "User" (
    id          text PRIMARY KEY,
    email       text NOT NULL UNIQUE,
    name        text NOT NULL,
    persona     text NOT NULL,
    points      integer NOT NULL DEFAULT 0,
    "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" timestamp(3) NOT NULL
);

CREATE TABLE "BehaviorLog" (
    id          text PRIMARY KEY,
    "userId"    text NOT NULL REFERENCES "User"(id) ON DELETE RESTRICT,
    action      text NOT NULL,
    payload     jsonb NOT NULL,
    "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX "BehaviorLog_userId_createdAt_idx" ON "BehaviorLog"("userId", "createdAt");
CREATE INDEX "BehaviorLog_action_idx" ON "BehaviorLog"(action);
