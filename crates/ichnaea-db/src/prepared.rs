//! Statement shapes that diesel-async's prepared-statement cache can reuse, for the
//! locate reads.
//!
//! # Why
//!
//! diesel's `eq_any` renders one placeholder per value and therefore marks the query as
//! unsafe to cache: diesel-async then prepares the statement, executes it and closes it,
//! for every query. On the locate path that was two round trips and a server-side parse per
//! station table touched, several times per request.
//!
//! * [`InList`] renders the same predicate but pads the value list to a fixed width (by
//!   default the next power of two, repeating the last value, which changes nothing in an
//!   `IN` list), so a handful of statement shapes cover every query;
//! * [`UnionAll`] joins several such selects into one statement, so a query's networks
//!   spread over many shard tables cost one round trip instead of one per table.
//!
//! The statements are then prepared once per connection and reused. The cache keys them by
//! their SQL text, so the number of shapes must stay small: callers give every part of a
//! union the same width, and include every shard table, not only the ones touched.

use diesel::expression::{AppearsOnTable, Expression, ValidGrouping};
use diesel::mysql::Mysql;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::QueryResult;
use diesel::sql_types::{Binary, Bool};

/// The predicate `column IN (values…)` over a binary key column, padded to a fixed number
/// of values so that its prepared statement can be cached (see the module documentation).
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
        let values: Vec<Vec<u8>> = values.into_iter().collect();
        let width = padded_len(values.len());
        Self::with_width(column, values, width)
    }

    /// `column IN (values…)` with exactly `width` placeholders (at least one, and at least
    /// as many as values): padded with the last value, or with an empty key, which no
    /// station has, when `values` is empty.
    pub fn with_width(column: C, mut values: Vec<Vec<u8>>, width: usize) -> Self {
        let filler = values.last().cloned().unwrap_or_default();
        let width = width.max(values.len()).max(1);
        values.resize(width, filler);
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

/// One part of a [`UnionAll`] after the first.
pub type UnionPart = Box<dyn QueryFragment<Mysql> + Send + Sync>;

/// `(head) UNION ALL (part) UNION ALL …`: one statement whose rows are those of every
/// part. The row type is the head's; every part must select the same column types.
pub struct UnionAll<Q> {
    head: Q,
    tails: Vec<UnionPart>,
}

impl<Q> UnionAll<Q> {
    /// The union of `head` and `tails`, in that order.
    pub fn new(head: Q, tails: Vec<UnionPart>) -> Self {
        Self { head, tails }
    }
}

impl<Q: Query> Query for UnionAll<Q> {
    type SqlType = Q::SqlType;
}

impl<Q> QueryId for UnionAll<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: QueryFragment<Mysql>> QueryFragment<Mysql> for UnionAll<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Mysql>) -> QueryResult<()> {
        out.push_sql("(");
        self.head.walk_ast(out.reborrow())?;
        out.push_sql(")");
        for part in &self.tails {
            out.push_sql(" UNION ALL (");
            part.walk_ast(out.reborrow())?;
            out.push_sql(")");
        }
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
        let empty = InList::with_width(t::mac, Vec::new(), 2);
        assert_eq!(empty.values, vec![Vec::<u8>::new(), Vec::new()]);
        let wider = InList::with_width(t::mac, vec![vec![1], vec![2]], 1);
        assert_eq!(wider.values.len(), 2);
    }

    #[test]
    fn renders_a_cacheable_union() {
        use crate::schema::wifi_shard_1 as u;
        let head = t::table
            .filter(InList::with_width(t::mac, vec![vec![1]], 2))
            .select(t::mac);
        let tail: UnionPart = Box::new(
            u::table
                .filter(InList::with_width(u::mac, Vec::new(), 2))
                .select(u::mac),
        );
        let query = UnionAll::new(head, vec![tail]);
        let sql = diesel::debug_query::<Mysql, _>(&query).to_string();
        assert!(
            sql.starts_with("(SELECT `wifi_shard_0`.`mac` FROM `wifi_shard_0` WHERE")
                && sql.contains(") UNION ALL (SELECT `wifi_shard_1`.`mac` FROM `wifi_shard_1`"),
            "{sql}"
        );
        assert!(is_cacheable(&query));
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
