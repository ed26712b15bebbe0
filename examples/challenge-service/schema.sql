-- Seed 001's Go challenge service (PostgreSQL): the catalog (challenges, goals) and
-- user_goal_progress keyed by (user, goal) with its challenge, as the batch UPSERT keeps
-- it. Users live in the platform (AGS), not here: user_id is the platform's id.
CREATE TYPE goal_status AS ENUM ('in_progress', 'completed', 'claimed');

CREATE TABLE challenges (
    id          text PRIMARY KEY,
    name        text NOT NULL
);

CREATE TABLE goals (
    id           text PRIMARY KEY,
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
    status       goal_status NOT NULL DEFAULT 'in_progress',
    completed_at timestamptz,
    claimed_at   timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, goal_id)
);
CREATE INDEX user_goal_progress_challenge_idx ON user_goal_progress(user_id, challenge_id);
