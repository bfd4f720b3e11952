//! The error type of the database layer.
//!
//! Callers decide what to do with predicates (`is_unavailable`, `is_not_found`) rather than
//! by matching on internal kinds, so the kinds can grow without breaking them. An
//! unavailable database is an expected operational condition (a metric and a `503`), not a
//! bug; the other kinds are.

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
    /// Applying migrations failed.
    Migration(String),
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
            Kind::Migration(m) => write!(f, "migration failed: {m}"),
        }
    }
}

impl std::error::Error for DbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            Kind::Query(e) => Some(e),
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
