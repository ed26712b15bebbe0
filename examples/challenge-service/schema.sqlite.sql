-- Seed 001's challenge service on SQLite: the same tables as schema.sql; the status
-- enum is a CHECK.
CREATE TABLE challenges (
    id          text PRIMARY KEY NOT NULL,
    name        text NOT NULL
);

CREATE TABLE goals (
    id           text PRIMARY KEY NOT NULL,
    challenge_id text NOT NULL REFERENCES challenges(id),
    stat_code    text NOT NULL,
    target       integer NOT NULL CHECK (target > 0),
    reward       integer NOT NULL
);

CREATE TABLE user_goal_progress (
    user_id      text NOT NULL,
    goal_id      text NOT NULL REFERENCES goals(id),
    challenge_id text NOT NULL REFERENCES challenges(id),
    progress     integer NOT NULL DEFAULT 0,
    status       text NOT NULL DEFAULT 'in_progress' CHECK (status IN ('in_progress', 'completed', 'claimed')),
    completed_at text,
    claimed_at   text,
    updated_at   text NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (user_id, goal_id)
);
CREATE INDEX user_goal_progress_challenge_idx ON user_goal_progress(user_id, challenge_id);
