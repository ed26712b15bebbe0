-- simulate's tables, created in a schema of their own (search_path is set by the loader).
-- Keys and indexes come after the data (src/sinks/sql/keys.rs), as pgbench -i does.
-- Generated ids that are keys use the "C" collation: sorting them for an index is then a
-- byte comparison instead of a locale-aware one.

CREATE TABLE run_meta (
    id            smallint    NOT NULL DEFAULT 1 CHECK (id = 1),
    version       text        NOT NULL,
    config        jsonb       NOT NULL,
    seed          bigint      NOT NULL,
    users         integer     NOT NULL,
    days          integer     NOT NULL,
    events        bigint      NOT NULL,
    events_sha256 text        NOT NULL,
    complete      boolean     NOT NULL
);

CREATE TABLE users (
    id             bigint      NOT NULL,
    user_key       text        NOT NULL,
    persona        text        NOT NULL,
    name           text        NOT NULL,
    email          text        NOT NULL,
    locale         text        NOT NULL,
    platform       text        NOT NULL,
    room           integer     NOT NULL,
    created_at     timestamptz NOT NULL,
    points_balance bigint      NOT NULL,
    churned_at     timestamptz,
    attributes     jsonb       NOT NULL
);

CREATE TABLE sessions (
    user_id     bigint      NOT NULL,
    session_no  integer     NOT NULL,
    session_key text        NOT NULL,
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz,
    duration_ms bigint,
    trigger     text        NOT NULL,
    end_reason  text
);

-- Seed 000's BehaviorLog: every timeline event, props as JSONB.
CREATE TABLE behavior_logs (
    user_id    bigint      NOT NULL,
    seq        integer     NOT NULL,
    session_id text,
    ts         timestamptz NOT NULL,
    t_ms       bigint      NOT NULL,
    event      text        NOT NULL,
    props      jsonb       NOT NULL
) PARTITION BY HASH (user_id);  -- one partition per COPY stream, created by the loader

CREATE TABLE points_ledger (
    user_id       bigint      NOT NULL,
    seq           integer     NOT NULL,
    ts            timestamptz NOT NULL,
    delta         bigint      NOT NULL,
    reason        text        NOT NULL,
    balance_after bigint      NOT NULL
);

CREATE TABLE challenges (
    id   text COLLATE "C" NOT NULL,
    name text NOT NULL
);

CREATE TABLE goals (
    id           text    COLLATE "C" NOT NULL,
    challenge_id text    COLLATE "C" NOT NULL,
    stat_code    text    NOT NULL,
    operator     text    NOT NULL,
    target       integer NOT NULL,
    reward       integer NOT NULL
);

-- Seed 001: progress only for challenges a user engaged with.
CREATE TABLE user_goal_progress (
    user_id      bigint      NOT NULL,
    goal_id      text        COLLATE "C" NOT NULL,
    progress     integer     NOT NULL,
    status       text        NOT NULL CHECK (status IN ('in_progress', 'completed', 'claimed')),
    completed_at timestamptz,
    claimed_at   timestamptz
) PARTITION BY HASH (user_id);  -- one partition per COPY stream, created by the loader

-- Seed 002: gifts and the claims that won a share.
CREATE TABLE gifts (
    id         text        COLLATE "C" NOT NULL,
    creator_id bigint      NOT NULL,
    created_at timestamptz NOT NULL,
    shares     integer     NOT NULL,
    value      integer     NOT NULL,
    room       integer     NOT NULL
);

CREATE TABLE gift_claims (
    gift_id    text        COLLATE "C" NOT NULL,
    user_id    bigint      NOT NULL,
    claimed_at timestamptz NOT NULL,
    share      integer     NOT NULL
);

-- Seed 004.
CREATE TABLE check_ins (
    user_id  bigint      NOT NULL,
    seq      integer     NOT NULL,
    ts       timestamptz NOT NULL,
    day_part text        NOT NULL,
    mood     smallint    NOT NULL,
    streak   integer     NOT NULL
);

CREATE TABLE purchases (
    id       text        COLLATE "C" NOT NULL,
    user_id  bigint      NOT NULL,
    ts       timestamptz NOT NULL,
    amount   integer     NOT NULL,
    currency text        NOT NULL,
    sku      text        NOT NULL
);

CREATE TABLE nudges (
    id        text        COLLATE "C" NOT NULL,
    user_id   bigint      NOT NULL,
    sent_at   timestamptz NOT NULL,
    campaign  integer,
    opened_at timestamptz
);
