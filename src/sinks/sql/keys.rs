//! Keys and indexes, added after the data is in (as `pgbench -i` does): one index build
//! per table beats maintaining them row by row during COPY.

/// Statements for both backends; each names the table it belongs to first.
pub const KEYS: &[(&str, &str)] = &[
    ("users", "CREATE UNIQUE INDEX users_pkey ON users (id)"),
    (
        "users",
        "CREATE UNIQUE INDEX users_email_key ON users (email)",
    ),
    (
        "sessions",
        "CREATE UNIQUE INDEX sessions_pkey ON sessions (user_id, session_no)",
    ),
    (
        "behavior_logs",
        "CREATE UNIQUE INDEX behavior_logs_pkey ON behavior_logs (user_id, seq)",
    ),
    (
        "points_ledger",
        "CREATE UNIQUE INDEX points_ledger_pkey ON points_ledger (user_id, seq)",
    ),
    (
        "challenges",
        "CREATE UNIQUE INDEX challenges_pkey ON challenges (id)",
    ),
    ("goals", "CREATE UNIQUE INDEX goals_pkey ON goals (id)"),
    (
        "user_goal_progress",
        "CREATE UNIQUE INDEX user_goal_progress_pkey ON user_goal_progress (user_id, goal_id)",
    ),
    (
        "user_goal_progress",
        "CREATE INDEX user_goal_progress_completed ON user_goal_progress (goal_id) WHERE status = 'completed'",
    ),
    ("gifts", "CREATE UNIQUE INDEX gifts_pkey ON gifts (id)"),
    (
        "gift_claims",
        "CREATE UNIQUE INDEX gift_claims_pkey ON gift_claims (gift_id, user_id)",
    ),
    (
        "check_ins",
        "CREATE UNIQUE INDEX check_ins_pkey ON check_ins (user_id, seq)",
    ),
    (
        "purchases",
        "CREATE UNIQUE INDEX purchases_pkey ON purchases (id)",
    ),
    ("nudges", "CREATE UNIQUE INDEX nudges_pkey ON nudges (id)"),
];

/// PostgreSQL turns the unique indexes into primary keys and adds the foreign keys that
/// are cheap to check; SQLite keeps the unique indexes. The goal-progress foreign key is
/// NOT VALID: the projection guarantees it, and validating millions of rows doubled the
/// key step (verify checks the data instead). Secondary indexes on the behaviour log are
/// left to the user: each one costs a sort of the largest table.
pub const PG_CONSTRAINTS: &[&str] = &[
    "ALTER TABLE users ADD PRIMARY KEY USING INDEX users_pkey",
    "ALTER TABLE sessions ADD PRIMARY KEY USING INDEX sessions_pkey",
    "ALTER TABLE behavior_logs ADD PRIMARY KEY USING INDEX behavior_logs_pkey",
    "ALTER TABLE points_ledger ADD PRIMARY KEY USING INDEX points_ledger_pkey",
    "ALTER TABLE challenges ADD PRIMARY KEY USING INDEX challenges_pkey",
    "ALTER TABLE goals ADD PRIMARY KEY USING INDEX goals_pkey",
    "ALTER TABLE user_goal_progress ADD PRIMARY KEY USING INDEX user_goal_progress_pkey",
    "ALTER TABLE gifts ADD PRIMARY KEY USING INDEX gifts_pkey",
    "ALTER TABLE gift_claims ADD PRIMARY KEY USING INDEX gift_claims_pkey",
    "ALTER TABLE check_ins ADD PRIMARY KEY USING INDEX check_ins_pkey",
    "ALTER TABLE purchases ADD PRIMARY KEY USING INDEX purchases_pkey",
    "ALTER TABLE nudges ADD PRIMARY KEY USING INDEX nudges_pkey",
    "ALTER TABLE goals ADD FOREIGN KEY (challenge_id) REFERENCES challenges (id)",
    "ALTER TABLE user_goal_progress ADD FOREIGN KEY (goal_id) REFERENCES goals (id) NOT VALID",
    "ALTER TABLE gift_claims ADD FOREIGN KEY (gift_id) REFERENCES gifts (id)",
];
