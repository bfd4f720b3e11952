//! The error type of the database layer.
//!
//! Callers decide what to do with predicates (`is_unavailable`, `is_not_found`,
//! `lock_failure`) rather than by matching on internal kinds, so the kinds can grow without
//! breaking them. An unavailable database is an expected operational condition (a metric
//! and a `503`), not a bug; so are lock failures, which the write paths retry
//! ([`crate::retry`]); the other kinds are bugs.

use std::fmt;

/// What went wrong.
#[derive(Debug)]
enum Kind {
    /// Bad configuration (URL, missing pool role).
    Config(String),
    /// No connection could be had in time: the server is down or saturated.
    Unavailable(String),
    /// A query failed.
    Query(diesel::result::Error),
    /// A statement on a plain `mysql_async` connection (the bulk cell import) failed.
    Driver(mysql_async::Error),
    /// Applying migrations failed.
    Migration(String),
    /// The caller passed data that cannot be written (a station of another shard, a value
    /// out of its column's range): a bug in the caller, never retried.
    Invalid(String),
    /// Another session holds what this operation needs (a station table's batch lock):
    /// nothing was done, and the caller tries again later.
    Busy(String),
}

/// A transient InnoDB lock failure: the transaction was (or must be) rolled back, and
/// running it again from the start is the documented remedy (`pipeline.md` §5.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockFailure {
    /// `ER_LOCK_DEADLOCK` (1213): InnoDB chose this transaction as a deadlock victim and
    /// rolled it back.
    Deadlock,
    /// `ER_LOCK_WAIT_TIMEOUT` (1205): a row lock was not granted within
    /// `innodb_lock_wait_timeout`.
    LockWaitTimeout,
}

impl LockFailure {
    /// The MySQL error number, for the `errno:<n>` metric tag.
    pub const fn errno(self) -> u16 {
        match self {
            LockFailure::Deadlock => 1213,
            LockFailure::LockWaitTimeout => 1205,
        }
    }
}

/// An error from the database layer.
#[derive(Debug)]
pub struct DbError {
    kind: Kind,
}

impl DbError {
    /// A configuration problem.
    pub fn config(msg: impl Into<String>) -> DbError {
        DbError {
            kind: Kind::Config(msg.into()),
        }
    }

    /// The database cannot be reached.
    pub fn unavailable(msg: impl Into<String>) -> DbError {
        DbError {
            kind: Kind::Unavailable(msg.into()),
        }
    }

    /// A migration failure.
    pub fn migration(msg: impl Into<String>) -> DbError {
        DbError {
            kind: Kind::Migration(msg.into()),
        }
    }

    /// Data that cannot be written: a caller bug.
    pub fn invalid(msg: impl Into<String>) -> DbError {
        DbError {
            kind: Kind::Invalid(msg.into()),
        }
    }

    /// Another session holds what this operation needs; nothing was done.
    pub fn busy(msg: impl Into<String>) -> DbError {
        DbError {
            kind: Kind::Busy(msg.into()),
        }
    }

    /// True when another session held what this operation needed and nothing was done
    /// ([`DbError::busy`]); trying again later is the remedy.
    pub fn is_busy(&self) -> bool {
        matches!(self.kind, Kind::Busy(_))
    }

    /// The lock failure behind this error, if it is one (deadlock or lock wait timeout).
    ///
    /// diesel-async keeps only the server's message text, not its error number, so the
    /// two errors are recognised by their messages, which MySQL and MariaDB share
    /// ("Deadlock found when trying to get lock; …", "Lock wait timeout exceeded; …").
    pub fn lock_failure(&self) -> Option<LockFailure> {
        // The plain driver keeps the error number.
        if let Kind::Driver(mysql_async::Error::Server(e)) = &self.kind {
            return match e.code {
                1213 => Some(LockFailure::Deadlock),
                1205 => Some(LockFailure::LockWaitTimeout),
                _ => None,
            };
        }
        let Kind::Query(diesel::result::Error::DatabaseError(_, info)) = &self.kind else {
            return None;
        };
        let message = info.message();
        if message.starts_with("Deadlock found when trying to get lock") {
            Some(LockFailure::Deadlock)
        } else if message.starts_with("Lock wait timeout exceeded") {
            Some(LockFailure::LockWaitTimeout)
        } else {
            None
        }
    }

    /// True for a deadlock (MySQL error 1213).
    pub fn is_deadlock(&self) -> bool {
        self.lock_failure() == Some(LockFailure::Deadlock)
    }

    /// True for a lock wait timeout (MySQL error 1205).
    pub fn is_lock_wait_timeout(&self) -> bool {
        self.lock_failure() == Some(LockFailure::LockWaitTimeout)
    }

    /// True when the caller passed data that cannot be written.
    pub fn is_invalid(&self) -> bool {
        matches!(self.kind, Kind::Invalid(_))
    }

    /// True when the database could not be reached (down, saturated, connection broken).
    pub fn is_unavailable(&self) -> bool {
        match &self.kind {
            Kind::Unavailable(_) => true,
            Kind::Query(e) => matches!(
                e,
                diesel::result::Error::BrokenTransactionManager
                    | diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::ClosedConnection,
                        _
                    )
            ),
            Kind::Driver(e) => matches!(e, mysql_async::Error::Io(_)),
            _ => false,
        }
    }

    /// True when a query found no row.
    pub fn is_not_found(&self) -> bool {
        matches!(self.kind, Kind::Query(diesel::result::Error::NotFound))
    }

    /// True when an insert hit an existing primary or unique key.
    pub fn is_duplicate(&self) -> bool {
        matches!(
            self.kind,
            Kind::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Config(m) => write!(f, "database configuration: {m}"),
            Kind::Unavailable(m) => write!(f, "database unavailable: {m}"),
            Kind::Query(e) => write!(f, "database query failed: {e}"),
            Kind::Driver(e) => write!(f, "database statement failed: {e}"),
            Kind::Migration(m) => write!(f, "migration failed: {m}"),
            Kind::Invalid(m) => write!(f, "invalid data for the database: {m}"),
            Kind::Busy(m) => write!(f, "busy: {m}"),
        }
    }
}

impl std::error::Error for DbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            Kind::Query(e) => Some(e),
            Kind::Driver(e) => Some(e),
            _ => None,
        }
    }
}

impl From<diesel::result::Error> for DbError {
    fn from(e: diesel::result::Error) -> DbError {
        DbError {
            kind: Kind::Query(e),
        }
    }
}

impl From<mysql_async::Error> for DbError {
    fn from(e: mysql_async::Error) -> DbError {
        DbError {
            kind: Kind::Driver(e),
        }
    }
}
