//! The database sinks: the timeline projected into tables, loaded into PostgreSQL with
//! COPY or into an embedded SQLite file, and checked against the timeline by `verify`.

pub mod conn;
pub mod copy;
pub mod hooks;
pub mod into;
pub mod keys;
pub mod owner;
pub mod partition;
pub mod postgres;
pub mod projection;
pub mod seeded;
pub mod sqlite;
pub mod verify;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use simulate_core::diagnostic::Problem;

/// The world a seed simulated, as run_meta's `config` keeps it: the same values
/// regenerate the same timeline.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WorldConfig {
    pub scenario: String,
    /// `--scenario FILE`, or none for the shipped scenario.
    pub scenario_file: Option<String>,
    /// `--personas DIR`, or none for the shipped personas.
    pub personas_dir: Option<String>,
    pub users: u32,
    /// `days`, and since spans `span` and `span_ms`.
    #[serde(flatten)]
    pub length: simulate_core::units::SpanRecord,
    pub seed: u64,
    /// t = 0: YYYY-MM-DD for a midnight, else YYYY-MM-DDTHH:MMZ.
    pub start: String,
}

/// The run's identity, stored in run_meta so `verify` can regenerate the timeline.
pub struct RunMeta {
    pub version: String,
    pub config: WorldConfig,
    pub seed: u64,
    pub users: u32,
    pub days: u32,
    pub events: u64,
    pub checksum: String,
    pub complete: bool,
}

/// The steps of a load and how long each took, printed at the end like `pgbench -i`'s.
/// Starting a step also tells whoever watches (the console's spinner): the key builds of
/// a large seed take tens of seconds after the last event.
pub struct Steps {
    pub done: Vec<(String, f64)>,
    current: Option<(String, Instant)>,
    watch: Box<dyn FnMut(&str)>,
    /// Set by Ctrl-C: the load stops before its next step rather than swap itself in.
    stop: Arc<AtomicBool>,
}

impl Steps {
    pub fn new(stop: Arc<AtomicBool>, watch: impl FnMut(&str) + 'static) -> Steps {
        Steps {
            done: Vec::new(),
            current: None,
            watch: Box::new(watch),
            stop,
        }
    }

    /// Ends the step under way, if any, and starts `name`; `Interrupted` instead when
    /// Ctrl-C came meanwhile.
    pub fn start(&mut self, name: &str) -> Result<(), DbError> {
        self.end();
        if self.stop.load(Ordering::SeqCst) {
            return Err(DbError::Interrupted);
        }
        (self.watch)(name);
        self.current = Some((name.to_string(), Instant::now()));
        Ok(())
    }

    /// Ends the step under way, recording its time.
    pub(crate) fn end(&mut self) {
        if let Some((name, t)) = self.current.take() {
            self.done.push((name, t.elapsed().as_secs_f64()));
        }
    }
}

/// What went wrong talking to a database. Messages never contain a password.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Something the user can fix: the problem and its fix.
    #[error("{0}")]
    Refused(Problem),
    #[error("{what}: {message}")]
    Failed { what: String, message: String },
    /// Ctrl-C between two steps of a load.
    #[error("interrupted")]
    Interrupted,
}

impl DbError {
    /// A refusal the user can fix.
    pub(crate) fn refused(message: impl Into<String>, fix: impl Into<String>) -> DbError {
        DbError::Refused(Problem::new(message, fix))
    }

    /// `what` failed because of `e`. A PostgreSQL error whose cause lies with the server
    /// or the user's rights (SQLSTATE below) becomes a refusal with the fix on its own line.
    pub fn failed(what: impl Into<String>, e: impl fmt::Display + 'static) -> DbError {
        let what = what.into();
        let message = server_words(&e.to_string()).to_string();
        let any = &e as &dyn std::any::Any;
        let fix = match any.downcast_ref::<rusqlite::Error>() {
            Some(e) => sqlite_fix(e).map(String::from),
            None => any
                .downcast_ref::<sqlx::Error>()
                .and_then(|e| e.as_database_error())
                .and_then(|d| d.code().map(|c| c.into_owned()))
                .as_deref()
                .and_then(fix_for),
        };
        match fix {
            Some(fix) => DbError::refused(format!("{what}: {message}"), fix),
            None => DbError::Failed { what, message },
        }
    }
}

/// The fix for SQLite errors a user can act on.
fn sqlite_fix(e: &rusqlite::Error) -> Option<&'static str> {
    use rusqlite::ErrorCode::*;
    Some(match e.sqlite_error_code()? {
        DiskFull | SystemIoFailure => {
            "free space on that disk, or write the file elsewhere with --sqlite FILE"
        }
        ReadOnly | PermissionDenied | CannotOpen => {
            "check that the file's folder is writable, or choose another file with --sqlite FILE"
        }
        _ => return None,
    })
}

/// The fix for PostgreSQL errors a user can act on, by SQLSTATE.
fn fix_for(code: &str) -> Option<String> {
    Some(match code {
        "42501" => {
            "connect as a user that may create schemas in this database (GRANT CREATE ON DATABASE … TO …), or as the owner of the schema it replaces"
        }
        "53100" => "free space on the database server's disk, or seed fewer --users or --days",
        "53200" => "give the server more memory, or lower its maintenance_work_mem",
        "53300" => {
            return Some(format!(
                "the load opens {} connections at once (one per COPY stream): raise the server's max_connections or the role's CONNECTION LIMIT, or close idle sessions",
                postgres::COPY_CONNECTIONS
            ));
        }
        "25006" => "this server is read-only (a replica?): point --database-url at the primary",
        c if c.starts_with("57P") => {
            "the server was shut down or restarted during the load: start it and run the same command again"
        }
        _ => return None,
    }
    .to_string())
}

/// A driver message without the " at line N" sqlx appends to PostgreSQL's errors: N is a
/// line of the server's C source, which only confuses whoever reads the message.
pub(crate) fn server_words(message: &str) -> &str {
    let message = message
        .strip_prefix("error returned from database: ")
        .unwrap_or(message);
    match message.rsplit_once(" at line ") {
        Some((words, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => words,
        _ => message,
    }
}

/// Identifiers we create or drop are validated, then quoted.
pub(crate) fn ident(name: &str) -> Result<String, DbError> {
    let ok = !name.is_empty()
        && name.len() <= 48
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && !name.starts_with("pg_");
    if ok {
        Ok(format!("\"{name}\""))
    } else {
        Err(DbError::refused(
            format!("`{name}` is not a usable schema name"),
            "use lowercase letters, digits and _ (not starting with pg_), e.g. --schema simulate",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_source_lines_are_dropped() {
        assert_eq!(
            server_words("database \"x\" does not exist at line 948"),
            "database \"x\" does not exist"
        );
        assert_eq!(server_words("no line here"), "no line here");
        assert_eq!(
            server_words("error returned from database: permission denied for database b1"),
            "permission denied for database b1"
        );
        assert_eq!(server_words("stopped at line ten"), "stopped at line ten");
    }

    #[test]
    fn schema_names_are_checked() {
        assert!(ident("simulate").is_ok());
        assert!(
            ident("x; drop").is_err() && ident("pg_catalog").is_err() && ident("Public").is_err()
        );
    }
}
