-- A team-style schema (seed 000's points app, as Prisma writes it): quoted names, an enum,
-- JSONB, a client-side id (Prisma's cuid(): no database default), @updatedAt (NOT NULL, no
-- default), a trigger, a partial unique index, and an audit table the app fills itself.
CREATE TYPE "Role" AS ENUM ('USER', 'ADMIN');

CREATE TABLE "User" (
    id          text PRIMARY KEY,
    email       text NOT NULL UNIQUE,
    name        text NOT NULL,
    role        "Role" NOT NULL DEFAULT 'USER',
    points      integer NOT NULL DEFAULT 0,
    "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" timestamp(3) NOT NULL
);

CREATE TABLE "BehaviorLog" (
    id          text PRIMARY KEY,
    "userId"    text NOT NULL REFERENCES "User"(id) ON DELETE RESTRICT,
    action      text NOT NULL,
    payload     jsonb NOT NULL,
    amount      integer,
    "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX "BehaviorLog_userId_idx" ON "BehaviorLog"("userId");
-- One sign-up per user.
CREATE UNIQUE INDEX "BehaviorLog_one_signup" ON "BehaviorLog"("userId") WHERE action = 'user.signed_up';

CREATE TABLE "Reward" (
    id          serial PRIMARY KEY,
    "userId"    text NOT NULL REFERENCES "User"(id),
    points      integer NOT NULL
);

CREATE TABLE "LogCount" (
    "userId"    text PRIMARY KEY,
    n           integer NOT NULL
);
CREATE FUNCTION count_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO "LogCount" VALUES (NEW."userId", 1)
    ON CONFLICT ("userId") DO UPDATE SET n = "LogCount".n + 1;
    RETURN NEW;
END $$;
CREATE TRIGGER "BehaviorLog_count" AFTER INSERT ON "BehaviorLog"
    FOR EACH ROW EXECUTE FUNCTION count_log();
