-- Seed 002's gift app on SQLite: the same tables as schema.sql.
CREATE TABLE wallets (
    address     text PRIMARY KEY NOT NULL CHECK (address LIKE '0x%' AND length(address) = 42),
    room        integer NOT NULL,
    created_at  text NOT NULL
);

CREATE TABLE gifts (
    id          text PRIMARY KEY NOT NULL,
    sender      text NOT NULL REFERENCES wallets(address),
    room        integer NOT NULL,
    shares      integer NOT NULL CHECK (shares > 0),
    remaining   integer NOT NULL CHECK (remaining >= 0),
    value       integer NOT NULL,
    created_at  text NOT NULL
);
CREATE INDEX gifts_room_idx ON gifts(room, created_at);

CREATE TABLE gift_claims (
    gift_id     text NOT NULL REFERENCES gifts(id),
    wallet      text NOT NULL REFERENCES wallets(address),
    share       integer NOT NULL,
    claimed_at  text NOT NULL,
    PRIMARY KEY (gift_id, wallet),
    UNIQUE (gift_id, share)
);
