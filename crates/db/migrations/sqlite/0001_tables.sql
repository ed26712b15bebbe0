-- simulate's tables in the embedded SQLite file (same logical schema as PostgreSQL;
-- timestamps are RFC 3339 text, JSON is text).
-- Keys and indexes come after the data (src/sinks/sql/keys.rs), as pgbench -i does.

CREATE TABLE run_meta (
    id            INTEGER    NOT NULL DEFAULT 1 CHECK (id = 1),
    version       TEXT        NOT NULL,
    config        TEXT        NOT NULL,
    seed          INTEGER      NOT NULL,
    users         INTEGER     NOT NULL,
    days          INTEGER     NOT NULL,
    events        INTEGER      NOT NULL,
    events_sha256 TEXT        NOT NULL,
    complete      INTEGER     NOT NULL
);

CREATE TABLE users (
    id             INTEGER      NOT NULL,
    user_key       TEXT        NOT NULL,
    persona        TEXT        NOT NULL,
    name           TEXT        NOT NULL,
    email          TEXT        NOT NULL,
    locale         TEXT        NOT NULL,
    platform       TEXT        NOT NULL,
    room           INTEGER     NOT NULL,
    created_at     TEXT        NOT NULL,
    points_balance INTEGER      NOT NULL,
    churned_at     TEXT       ,
    attributes     TEXT        NOT NULL
);

CREATE TABLE sessions (
    user_id     INTEGER      NOT NULL,
    session_no  INTEGER     NOT NULL,
    session_key TEXT        NOT NULL,
    started_at  TEXT        NOT NULL,
    ended_at    TEXT       ,
    duration_ms INTEGER,
    trigger     TEXT        NOT NULL,
    end_reason  TEXT
);

-- Seed 000's BehaviorLog: every timeline event, props as JSONB.
CREATE TABLE behavior_logs (
    user_id    INTEGER      NOT NULL,
    seq        INTEGER     NOT NULL,
    session_id TEXT,
    ts         TEXT        NOT NULL,
    t_ms       INTEGER      NOT NULL,
    event      TEXT        NOT NULL,
    props      TEXT        NOT NULL
);

CREATE TABLE points_ledger (
    user_id       INTEGER      NOT NULL,
    seq           INTEGER     NOT NULL,
    ts            TEXT        NOT NULL,
    delta         INTEGER      NOT NULL,
    reason        TEXT        NOT NULL,
    balance_after INTEGER      NOT NULL
);

CREATE TABLE challenges (
    id   TEXT NOT NULL,
    name TEXT NOT NULL
);

CREATE TABLE goals (
    id           TEXT    NOT NULL,
    challenge_id TEXT    NOT NULL,
    stat_code    TEXT    NOT NULL,
    operator     TEXT    NOT NULL,
    target       INTEGER NOT NULL,
    reward       INTEGER NOT NULL
);

-- Seed 001: progress only for challenges a user engaged with.
CREATE TABLE user_goal_progress (
    user_id      INTEGER      NOT NULL,
    goal_id      TEXT        NOT NULL,
    progress     INTEGER     NOT NULL,
    status       TEXT        NOT NULL CHECK (status IN ('in_progress', 'completed', 'claimed')),
    completed_at TEXT       ,
    claimed_at   TEXT       
);

-- Seed 002: gifts and the claims that won a share.
CREATE TABLE gifts (
    id         TEXT        NOT NULL,
    creator_id INTEGER      NOT NULL,
    created_at TEXT        NOT NULL,
    shares     INTEGER     NOT NULL,
    value      INTEGER     NOT NULL,
    room       INTEGER     NOT NULL
);

CREATE TABLE gift_claims (
    gift_id    TEXT        NOT NULL,
    user_id    INTEGER      NOT NULL,
    claimed_at TEXT        NOT NULL,
    share      INTEGER     NOT NULL
);

-- Seed 004.
CREATE TABLE check_ins (
    user_id  INTEGER      NOT NULL,
    seq      INTEGER     NOT NULL,
    ts       TEXT        NOT NULL,
    day_part TEXT        NOT NULL,
    mood     INTEGER    NOT NULL,
    streak   INTEGER     NOT NULL
);

CREATE TABLE purchases (
    id       TEXT        NOT NULL,
    user_id  INTEGER      NOT NULL,
    ts       TEXT        NOT NULL,
    amount   INTEGER     NOT NULL,
    currency TEXT        NOT NULL,
    sku      TEXT        NOT NULL
);

CREATE TABLE nudges (
    id        TEXT        NOT NULL,
    user_id   INTEGER      NOT NULL,
    sent_at   TEXT        NOT NULL,
    campaign  INTEGER,
    opened_at TEXT       
);
