-- Seed 004's Express backend (PostgreSQL): users `user_1` … and their check-ins. The
-- check-in's id is a serial the database numbers (the mapping leaves it out); the user's
-- check-in count and last mood are what GET /api/users/:userId/stats reads.
CREATE TYPE day_part AS ENUM ('morning', 'afternoon', 'evening', 'night');

CREATE TABLE users (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    checkins    integer NOT NULL DEFAULT 0,
    last_mood   integer,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE check_ins (
    id          serial PRIMARY KEY,
    user_id     text NOT NULL REFERENCES users(id),
    day_part    day_part NOT NULL,
    mood        integer NOT NULL CHECK (mood BETWEEN 1 AND 5),
    streak      integer NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX check_ins_user_idx ON check_ins(user_id, created_at);
