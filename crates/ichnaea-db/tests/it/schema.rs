//! The hand-written `schema.rs` must match the database the migrations build: same tables,
//! same columns in the same order, same SQL types and nullability, same primary keys.

use std::collections::BTreeMap;

use diesel::query_builder::QueryFragment;
use diesel::{Expression, Table};
use ichnaea_testing::TestDb;
use mysql_async::prelude::Queryable;

/// Column names, SQL type names and primary key of one diesel table.
#[derive(Debug, PartialEq, Eq)]
struct TableShape {
    columns: Vec<(String, String)>,
    primary_key: Vec<String>,
}

/// Splits a tuple type name such as `(a::B, c::D<e::F>)` into its elements.
fn tuple_elements(type_name: &str) -> Vec<String> {
    let inner = type_name
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(type_name);
    let mut out = Vec::new();
    let mut depth = 0;
    let mut current = String::new();
    for c in inner.chars() {
        match c {
            '<' | '(' => depth += 1,
            '>' | ')' => depth -= 1,
            _ => {}
        }
        if c == ',' && depth == 0 {
            out.push(current.trim().to_owned());
            current.clear();
        } else {
            current.push(c);
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_owned());
    }
    out
}

/// `diesel::sql_types::Nullable<diesel::sql_types::Unsigned<…Integer>>` → `Nullable<Unsigned<Integer>>`.
fn short_type(name: &str) -> String {
    let mut out = String::new();
    let mut segment = String::new();
    for c in name.chars() {
        match c {
            '<' | '>' => {
                out.push_str(segment.rsplit("::").next().unwrap_or(""));
                segment.clear();
                out.push(c);
            }
            _ => segment.push(c),
        }
    }
    out.push_str(segment.rsplit("::").next().unwrap_or(""));
    out
}

/// Column names of an expression list, from the SQL diesel generates for it.
fn column_names<T: QueryFragment<diesel::mysql::Mysql>>(expr: T) -> Vec<String> {
    let sql = diesel::debug_query::<diesel::mysql::Mysql, _>(&expr).to_string();
    let sql = sql.split(" -- binds").next().unwrap_or(&sql);
    sql.split(", ")
        .map(|c| {
            c.rsplit('.')
                .next()
                .unwrap_or(c)
                .trim_matches('`')
                .to_owned()
        })
        .collect()
}

fn shape<T>(_table: T) -> TableShape
where
    T: Table,
    T::AllColumns: QueryFragment<diesel::mysql::Mysql> + Expression,
    T::PrimaryKey: QueryFragment<diesel::mysql::Mysql>,
{
    let names = column_names(T::all_columns());
    let types = tuple_elements(std::any::type_name::<<T::AllColumns as Expression>::SqlType>())
        .iter()
        .map(|t| short_type(t))
        .collect::<Vec<_>>();
    assert_eq!(names.len(), types.len(), "{names:?} vs {types:?}");
    TableShape {
        columns: names.into_iter().zip(types).collect(),
        primary_key: column_names(_table.primary_key()),
    }
}

/// The diesel SQL type that a MySQL column type maps to.
fn diesel_type(column_type: &str, nullable: bool) -> String {
    let t = column_type.to_ascii_lowercase();
    let unsigned = t.ends_with(" unsigned");
    let base = t.trim_end_matches(" unsigned");
    let base_name = base.split('(').next().unwrap_or(base);
    let inner = match (base_name, unsigned) {
        ("tinyint", false) if base == "tinyint(1)" => "Bool".to_owned(),
        ("tinyint", false) => "TinyInt".to_owned(),
        ("tinyint", true) => "Unsigned<TinyInt>".to_owned(),
        ("smallint", false) => "SmallInt".to_owned(),
        ("smallint", true) => "Unsigned<SmallInt>".to_owned(),
        ("int", false) => "Integer".to_owned(),
        ("int", true) => "Unsigned<Integer>".to_owned(),
        ("bigint", false) => "BigInt".to_owned(),
        ("bigint", true) => "Unsigned<BigInt>".to_owned(),
        ("double", _) => "Double".to_owned(),
        ("varchar", _) => "Text".to_owned(),
        ("binary", _) | ("varbinary", _) => "Binary".to_owned(),
        ("date", _) => "Date".to_owned(),
        ("datetime", _) => "Datetime".to_owned(),
        other => panic!("unmapped MySQL type {other:?}"),
    };
    if nullable {
        format!("Nullable<{inner}>")
    } else {
        inner
    }
}

macro_rules! diesel_shapes {
    ($($table:ident),* $(,)?) => {{
        let mut shapes = BTreeMap::new();
        $(shapes.insert(stringify!($table).to_owned(), shape(ichnaea_db::schema::$table::table));)*
        shapes
    }};
}

#[tokio::test]
async fn schema_matches_migrated_database() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let rows: Vec<(String, String, String, String, String)> = conn
        .exec(
            "SELECT table_name, column_name, column_type, is_nullable, column_key \
             FROM information_schema.columns WHERE table_schema = ? \
             ORDER BY table_name, ordinal_position",
            (db.name(),),
        )
        .await
        .unwrap();
    let mut database: BTreeMap<String, TableShape> = BTreeMap::new();
    for (table, column, column_type, nullable, key) in rows {
        if table == "__diesel_schema_migrations" {
            continue;
        }
        let entry = database.entry(table).or_insert_with(|| TableShape {
            columns: Vec::new(),
            primary_key: Vec::new(),
        });
        entry
            .columns
            .push((column.clone(), diesel_type(&column_type, nullable == "YES")));
        if key == "PRI" {
            entry.primary_key.push(column);
        }
    }

    let diesel = ichnaea_db::for_each_table!(diesel_shapes);
    let db_tables: Vec<_> = database.keys().collect();
    let diesel_tables: Vec<_> = diesel.keys().collect();
    assert_eq!(db_tables, diesel_tables, "table sets differ");
    for (name, expected) in &diesel {
        assert_eq!(&database[name], expected, "table {name} differs");
    }
    assert_eq!(diesel.len(), 47);
}

#[test]
fn type_name_parsing() {
    assert_eq!(
        tuple_elements("(a::B, c::D<e::F, g::H>)"),
        vec!["a::B".to_owned(), "c::D<e::F, g::H>".to_owned()]
    );
    assert_eq!(
        short_type(
            "diesel::sql_types::Nullable<diesel::sql_types::Unsigned<diesel::sql_types::Integer>>"
        ),
        "Nullable<Unsigned<Integer>>"
    );
    assert_eq!(
        diesel_type("int(10) unsigned", true),
        "Nullable<Unsigned<Integer>>"
    );
    assert_eq!(
        diesel_type("int unsigned", false),
        "Unsigned<Integer>",
        "MySQL 8 drops display widths"
    );
    assert_eq!(diesel_type("tinyint(1)", true), "Nullable<Bool>");
    assert_eq!(diesel_type("tinyint(4)", false), "TinyInt");
}
