-- Seed 004's backend on SQLite: the same tables as schema.sql; the day part's enum is a
-- CHECK, the check-in's id an INTEGER PRIMARY KEY (the rowid) SQLite numbers.
CREATE TABLE users (
    id          text PRIMARY KEY NOT NULL,
    name        text NOT NULL,
    checkins    integer NOT NULL DEFAULT 0,
    last_mood   integer,
    created_at  text NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE check_ins (
    id          integer PRIMARY KEY AUTOINCREMENT,
    user_id     text NOT NULL REFERENCES users(id),
    day_part    text NOT NULL CHECK (day_part IN ('morning', 'afternoon', 'evening', 'night')),
    mood        integer NOT NULL CHECK (mood BETWEEN 1 AND 5),
    streak      integer NOT NULL,
    created_at  text NOT NULL
);
CREATE INDEX check_ins_user_idx ON check_ins(user_id, created_at);
