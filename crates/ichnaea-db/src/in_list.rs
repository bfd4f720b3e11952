//! `column IN (?, …)` with a reusable prepared statement, for the locate reads.
//!
//! # Why
//!
//! diesel's `eq_any` renders one placeholder per value and therefore marks the query as
//! unsafe to cache: diesel-async then prepares the statement, executes it and closes it,
//! for every query. On the locate path that is two round trips and a server-side parse per
//! station table touched, several times per request. [`InList`] renders the same
//! predicate but pads the value list to the next power of two (repeating the last value,
//! which changes nothing in an `IN` list), so a handful of statement shapes cover every
//! query. The statement is then prepared once per connection and reused: one round trip
//! per table.

use diesel::expression::{AppearsOnTable, Expression, ValidGrouping};
use diesel::mysql::Mysql;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::result::QueryResult;
use diesel::sql_types::{Binary, Bool};

/// The predicate `column IN (values…)` over a binary key column, padded to a power of two
/// values so that its prepared statement can be cached (see the module documentation).
#[derive(Debug, Clone)]
pub struct InList<C> {
    column: C,
    values: Vec<Vec<u8>>,
}

/// The number of placeholders used for `n` values: the next power of two.
pub fn padded_len(n: usize) -> usize {
    n.max(1).next_power_of_two()
}

impl<C> InList<C> {
    /// `column IN (values…)`. `values` must not be empty (an empty list matches nothing;
    /// callers skip the query instead).
    pub fn new(column: C, values: impl IntoIterator<Item = Vec<u8>>) -> Self {
        let mut values: Vec<Vec<u8>> = values.into_iter().collect();
        if let Some(last) = values.last().cloned() {
            values.resize(padded_len(values.len()), last);
        }
        Self { column, values }
    }
}

impl<C: Expression> Expression for InList<C> {
    type SqlType = Bool;
}

impl<C, QS> AppearsOnTable<QS> for InList<C> where C: AppearsOnTable<QS> {}

impl<C: ValidGrouping<()>> ValidGrouping<()> for InList<C> {
    type IsAggregate = C::IsAggregate;
}

impl<C> QueryId for InList<C> {
    type QueryId = ();
    // The SQL depends on the number of values, so the statement cache keys it by its text.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<C: QueryFragment<Mysql>> QueryFragment<Mysql> for InList<C> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Mysql>) -> QueryResult<()> {
        if self.values.is_empty() {
            // Never true, and still a valid statement.
            out.push_sql("1 = 0");
            return Ok(());
        }
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" IN (");
        for (i, value) in self.values.iter().enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_bind_param::<Binary, Vec<u8>>(value)?;
        }
        out.push_sql(")");
        Ok(())
    }
}

/// Whether a query built with [`InList`] can be cached: the check diesel-async makes.
#[cfg(test)]
fn is_cacheable<Q: QueryFragment<Mysql>>(query: &Q) -> bool {
    query.is_safe_to_cache_prepared(&Mysql).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::wifi_shard_0 as t;
    use diesel::prelude::*;

    #[test]
    fn pads_to_a_power_of_two() {
        assert_eq!(padded_len(0), 1);
        assert_eq!(padded_len(1), 1);
        assert_eq!(padded_len(3), 4);
        assert_eq!(padded_len(4), 4);
        assert_eq!(padded_len(5), 8);
        let list = InList::new(t::mac, vec![vec![1], vec![2], vec![3]]);
        assert_eq!(list.values, vec![vec![1], vec![2], vec![3], vec![3]]);
    }

    #[test]
    fn renders_a_cacheable_in_list() {
        let query = t::table
            .filter(InList::new(t::mac, vec![vec![1], vec![2], vec![3]]))
            .select(t::mac);
        let sql = diesel::debug_query::<Mysql, _>(&query).to_string();
        assert!(
            sql.contains("`wifi_shard_0`.`mac` IN (?, ?, ?, ?)"),
            "{sql}"
        );
        assert!(is_cacheable(&query));
        // What it replaces is not cacheable.
        let ids = vec![vec![1u8], vec![2], vec![3]];
        let eq_any = t::table.filter(t::mac.eq_any(&ids)).select(t::mac);
        assert!(!is_cacheable(&eq_any));
    }
}
