-- Seed 002's gift app (PostgreSQL): wallets, the gifts the checklist seeds (50 or 100),
-- and their winning claims, one per (gift, wallet) and one per share; `remaining` is what
-- the app's claim lock decrements: shares − claims.
CREATE TABLE wallets (
    address     text PRIMARY KEY CHECK (address ~ '^0x[0-9a-f]{40}$'),
    room        integer NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE gifts (
    id          text PRIMARY KEY,
    sender      text NOT NULL REFERENCES wallets(address),
    room        integer NOT NULL,
    shares      integer NOT NULL CHECK (shares > 0),
    remaining   integer NOT NULL CHECK (remaining >= 0),
    value       integer NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX gifts_room_idx ON gifts(room, created_at);

CREATE TABLE gift_claims (
    gift_id     text NOT NULL REFERENCES gifts(id),
    wallet      text NOT NULL REFERENCES wallets(address),
    share       integer NOT NULL,
    claimed_at  timestamptz NOT NULL,
    PRIMARY KEY (gift_id, wallet),
    UNIQUE (gift_id, share)
);
