//! Keys and indexes, added after the data is in (as `pgbench -i` does): one index build
//! per table beats maintaining them row by row during COPY.

/// One index, as both backends build it.
pub(crate) struct Key {
    pub(crate) table: &'static str,
    pub(crate) name: &'static str,
    pub(crate) unique: bool,
    /// PostgreSQL turns it into the table's primary key; SQLite keeps the unique index.
    pub(crate) primary: bool,
    pub(crate) columns: &'static str,
    pub(crate) filter: Option<&'static str>,
}

const fn key(table: &'static str, name: &'static str, columns: &'static str) -> Key {
    Key {
        table,
        name,
        unique: true,
        primary: true,
        columns,
        filter: None,
    }
}

/// Secondary indexes on the behaviour log are left to the user: each one costs a sort of
/// the largest table.
pub(crate) const KEYS: &[Key] = &[
    key("users", "users_pkey", "id"),
    Key {
        primary: false,
        ..key("users", "users_email_key", "email")
    },
    key("sessions", "sessions_pkey", "user_id, session_no"),
    key("behavior_logs", "behavior_logs_pkey", "user_id, seq"),
    key("points_ledger", "points_ledger_pkey", "user_id, seq"),
    key("challenges", "challenges_pkey", "id"),
    key("goals", "goals_pkey", "id"),
    key(
        "user_goal_progress",
        "user_goal_progress_pkey",
        "user_id, goal_id",
    ),
    Key {
        unique: false,
        primary: false,
        filter: Some("status = 'completed'"),
        ..key(
            "user_goal_progress",
            "user_goal_progress_completed",
            "goal_id",
        )
    },
    key("gifts", "gifts_pkey", "id"),
    key("gift_claims", "gift_claims_pkey", "gift_id, user_id"),
    key("check_ins", "check_ins_pkey", "user_id, seq"),
    key("purchases", "purchases_pkey", "id"),
    key("nudges", "nudges_pkey", "id"),
];

/// (table, foreign key, NOT VALID). The goal-progress key is NOT VALID: the projection
/// guarantees it, and validating millions of rows doubled the key step (verify checks
/// the data instead).
const FOREIGN_KEYS: &[(&str, &str, bool)] = &[
    ("goals", "(challenge_id) REFERENCES challenges (id)", false),
    (
        "user_goal_progress",
        "(goal_id) REFERENCES goals (id)",
        true,
    ),
    ("gift_claims", "(gift_id) REFERENCES gifts (id)", false),
];

/// The name of partition `lane` of `table`, and of its copy of an index.
pub(crate) fn part(name: &str, table: &str, lane: usize) -> String {
    match name.strip_prefix(table) {
        Some(rest) => format!("{table}_p{lane}{rest}"),
        None => format!("{name}_p{lane}"),
    }
}

impl Key {
    fn create(&self, name: &str, on: &str) -> String {
        format!(
            "CREATE {}INDEX {name} ON {on} ({}){}",
            if self.unique { "UNIQUE " } else { "" },
            self.columns,
            self.filter
                .map(|f| format!(" WHERE {f}"))
                .unwrap_or_default()
        )
    }

    /// The statement SQLite runs.
    pub(crate) fn sqlite(&self) -> String {
        self.create(self.name, self.table)
    }

    /// The index builds PostgreSQL runs for this key when `table` has `lanes` hash
    /// partitions (1: a plain table): one build per partition, each on its own table.
    pub(crate) fn pg_builds(&self, lanes: usize) -> Vec<String> {
        if lanes <= 1 {
            return vec![self.create(self.name, self.table)];
        }
        (0..lanes)
            .map(|i| {
                self.create(
                    &part(self.name, self.table, i),
                    &part(self.table, self.table, i),
                )
            })
            .collect()
    }

    /// What turns the built indexes into keys. A partitioned table's key is declared on
    /// the parent alone (`ONLY`), then each partition's index is attached to it: the
    /// parent's own build would redo the partitions' one after another.
    pub(crate) fn pg_constraints(&self, lanes: usize) -> Vec<String> {
        let (t, n) = (self.table, self.name);
        if lanes <= 1 {
            return match self.primary {
                true => vec![format!("ALTER TABLE {t} ADD PRIMARY KEY USING INDEX {n}")],
                false => vec![],
            };
        }
        let mut out = Vec::new();
        if self.primary {
            for i in 0..lanes {
                out.push(format!(
                    "ALTER TABLE {} ADD PRIMARY KEY USING INDEX {}",
                    part(t, t, i),
                    part(n, t, i)
                ));
            }
            out.push(format!(
                "ALTER TABLE ONLY {t} ADD PRIMARY KEY ({})",
                self.columns
            ));
        } else {
            out.push(self.create(n, &format!("ONLY {t}")));
        }
        for i in 0..lanes {
            out.push(format!(
                "ALTER INDEX {n} ATTACH PARTITION {}",
                part(n, t, i)
            ));
        }
        out
    }
}

/// The foreign keys PostgreSQL adds after the keys; `lanes` says how many partitions a
/// table has. A NOT VALID key goes on each partition (PostgreSQL 15 refuses NOT VALID on
/// a partitioned table).
pub(crate) fn pg_foreign_keys(lanes: impl Fn(&str) -> usize) -> Vec<String> {
    let mut out = Vec::new();
    for (t, fk, not_valid) in FOREIGN_KEYS {
        let suffix = if *not_valid { " NOT VALID" } else { "" };
        match lanes(t) {
            n if n > 1 && *not_valid => {
                for i in 0..n {
                    out.push(format!(
                        "ALTER TABLE {} ADD FOREIGN KEY {fk}{suffix}",
                        part(t, t, i)
                    ));
                }
            }
            _ => out.push(format!("ALTER TABLE {t} ADD FOREIGN KEY {fk}{suffix}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitioned_keys_are_built_per_partition_and_attached() {
        let pkey = KEYS
            .iter()
            .find(|k| k.name == "behavior_logs_pkey")
            .unwrap();
        assert_eq!(
            pkey.pg_builds(2),
            [
                "CREATE UNIQUE INDEX behavior_logs_p0_pkey ON behavior_logs_p0 (user_id, seq)",
                "CREATE UNIQUE INDEX behavior_logs_p1_pkey ON behavior_logs_p1 (user_id, seq)"
            ]
        );
        assert_eq!(
            pkey.pg_constraints(2).last().unwrap(),
            "ALTER INDEX behavior_logs_pkey ATTACH PARTITION behavior_logs_p1_pkey"
        );
        let partial = KEYS
            .iter()
            .find(|k| k.name == "user_goal_progress_completed")
            .unwrap();
        assert_eq!(
            partial.pg_constraints(2)[0],
            "CREATE INDEX user_goal_progress_completed ON ONLY user_goal_progress (goal_id) WHERE status = 'completed'"
        );
        assert_eq!(
            pkey.pg_builds(1),
            ["CREATE UNIQUE INDEX behavior_logs_pkey ON behavior_logs (user_id, seq)"]
        );
        assert!(
            pg_foreign_keys(|t| if t == "user_goal_progress" { 2 } else { 1 })
                .contains(&"ALTER TABLE user_goal_progress_p1 ADD FOREIGN KEY (goal_id) REFERENCES goals (id) NOT VALID".to_string())
        );
    }
}
