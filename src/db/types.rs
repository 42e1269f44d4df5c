//! SQL types that let one `table!` schema serve both Postgres and SQLite.
//!
//! Diesel's `Uuid`, `Timestamptz` and `Jsonb` types exist only on Postgres (or, for SQLite's
//! JSONB, produce blobs that the Debian `sqlite3` CLI cannot read). The three types here map to
//! the native Postgres type and to plain TEXT on SQLite:
//!
//! | SQL type        | Postgres      | SQLite                                            |
//! |-----------------|---------------|---------------------------------------------------|
//! | [`PUuid`]       | `uuid`        | TEXT, hyphenated lower case                        |
//! | [`PTimestamptz`]| `timestamptz` | TEXT, RFC 3339 with exactly 6 fraction digits + `Z` |
//! | [`PJson`]       | `jsonb`       | TEXT holding JSON                                  |
//!
//! The fixed-width timestamp text makes string order equal time order, so `ORDER BY` and
//! `<=` comparisons behave the same on both backends.
//!
//! Row structs keep the plain `uuid::Uuid`, `chrono::DateTime<Utc>` and `serde_json::Value`
//! and convert through the small local wrappers below ([`DbUuid`], [`DbTime`], [`DbJson`],
//! [`DbOpt`]) with `#[diesel(serialize_as/deserialize_as)]`. Wrappers are needed because
//! diesel's blanket `AsExpression` impl makes impls for foreign types incoherent; queries wrap
//! bound values the same way (`tasks::id.eq(DbUuid(id))`).

use chrono::{DateTime, SecondsFormat, Utc};
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::expression::TypedExpressionType;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{
    is_nullable, Jsonb, Nullable, SingleValue, SqlType, Text, Timestamptz, Uuid as PgUuid,
};
use diesel::sqlite::{Sqlite, SqliteValue};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A UUID: `uuid` on Postgres, hyphenated TEXT on SQLite.
#[derive(
    Debug, Clone, Copy, Default, diesel::sql_types::SqlType, diesel::query_builder::QueryId,
)]
#[diesel(postgres_type(oid = 2950, array_oid = 2951))]
#[diesel(sqlite_type(name = "Text"))]
pub struct PUuid;

/// A UTC instant: `timestamptz` on Postgres, fixed-width RFC 3339 TEXT on SQLite.
#[derive(
    Debug, Clone, Copy, Default, diesel::sql_types::SqlType, diesel::query_builder::QueryId,
)]
#[diesel(postgres_type(oid = 1184, array_oid = 1185))]
#[diesel(sqlite_type(name = "Text"))]
pub struct PTimestamptz;

/// A JSON document: `jsonb` on Postgres, TEXT on SQLite (readable by any `sqlite3` CLI).
#[derive(
    Debug, Clone, Copy, Default, diesel::sql_types::SqlType, diesel::query_builder::QueryId,
)]
#[diesel(postgres_type(oid = 3802, array_oid = 3807))]
#[diesel(sqlite_type(name = "Text"))]
pub struct PJson;

/// A [`Uuid`] bound to or read from a [`PUuid`] column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = PUuid)]
pub struct DbUuid(pub Uuid);

/// A UTC instant bound to or read from a [`PTimestamptz`] column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, AsExpression, FromSqlRow)]
#[diesel(sql_type = PTimestamptz)]
pub struct DbTime(pub DateTime<Utc>);

/// A JSON value bound to or read from a [`PJson`] column.
#[derive(Debug, Clone, PartialEq, AsExpression, FromSqlRow)]
#[diesel(sql_type = PJson)]
pub struct DbJson(pub serde_json::Value);

/// A nullable wrapper: `DbOpt<DbUuid>` for a `Nullable<PUuid>` column, and so on.
#[derive(Debug, Clone, PartialEq, FromSqlRow)]
pub struct DbOpt<T>(pub Option<T>);

impl<T, ST> AsExpression<Nullable<ST>> for DbOpt<T>
where
    ST: SqlType<IsNull = is_nullable::NotNull> + TypedExpressionType + SingleValue,
{
    // `Bound` is the expression type diesel's own derive emits; it is public for that reason.
    type Expression = diesel::internal::derives::as_expression::Bound<Nullable<ST>, Self>;
    fn as_expression(self) -> Self::Expression {
        diesel::internal::derives::as_expression::Bound::new(self)
    }
}

impl<T, ST, DB> ToSql<Nullable<ST>, DB> for DbOpt<T>
where
    DB: Backend,
    T: ToSql<ST, DB>,
{
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
        match &self.0 {
            Some(value) => value.to_sql(out),
            None => Ok(IsNull::Yes),
        }
    }
}

impl<T, ST, DB> FromSql<Nullable<ST>, DB> for DbOpt<T>
where
    DB: Backend,
    T: FromSql<ST, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        Ok(DbOpt(Some(T::from_sql(bytes)?)))
    }

    fn from_nullable_sql(bytes: Option<DB::RawValue<'_>>) -> deserialize::Result<Self> {
        match bytes {
            Some(bytes) => Self::from_sql(bytes),
            None => Ok(DbOpt(None)),
        }
    }
}

/// Conversions between a wrapper and its plain type, plain and nullable.
macro_rules! wrapper_conversions {
    ($wrapper:ident, $plain:ty) => {
        impl From<$plain> for $wrapper {
            fn from(value: $plain) -> Self {
                $wrapper(value)
            }
        }
        impl From<$wrapper> for $plain {
            fn from(value: $wrapper) -> Self {
                value.0
            }
        }
        impl From<Option<$plain>> for DbOpt<$wrapper> {
            fn from(value: Option<$plain>) -> Self {
                DbOpt(value.map($wrapper))
            }
        }
        impl From<DbOpt<$wrapper>> for Option<$plain> {
            fn from(value: DbOpt<$wrapper>) -> Self {
                value.0.map(|w| w.0)
            }
        }
    };
}

wrapper_conversions!(DbUuid, Uuid);
wrapper_conversions!(DbTime, DateTime<Utc>);
wrapper_conversions!(DbJson, serde_json::Value);

// ---- PUuid ----

impl ToSql<PUuid, Pg> for DbUuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <Uuid as ToSql<PgUuid, Pg>>::to_sql(&self.0, out)
    }
}

impl FromSql<PUuid, Pg> for DbUuid {
    fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
        <Uuid as FromSql<PgUuid, Pg>>::from_sql(bytes).map(DbUuid)
    }
}

impl ToSql<PUuid, Sqlite> for DbUuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.hyphenated().to_string());
        Ok(IsNull::No)
    }
}

impl FromSql<PUuid, Sqlite> for DbUuid {
    fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        Ok(DbUuid(Uuid::parse_str(value.read_text())?))
    }
}

// ---- PTimestamptz ----

/// Formats an instant the way SQLite rows store it (fixed width, so text order = time order).
pub fn format_sqlite_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

impl ToSql<PTimestamptz, Pg> for DbTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <DateTime<Utc> as ToSql<Timestamptz, Pg>>::to_sql(&self.0, out)
    }
}

impl FromSql<PTimestamptz, Pg> for DbTime {
    fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
        <DateTime<Utc> as FromSql<Timestamptz, Pg>>::from_sql(bytes).map(DbTime)
    }
}

impl ToSql<PTimestamptz, Sqlite> for DbTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(format_sqlite_time(&self.0));
        Ok(IsNull::No)
    }
}

impl FromSql<PTimestamptz, Sqlite> for DbTime {
    fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        let parsed = DateTime::parse_from_rfc3339(value.read_text())?;
        Ok(DbTime(parsed.with_timezone(&Utc)))
    }
}

// ---- PJson ----

impl ToSql<PJson, Pg> for DbJson {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <serde_json::Value as ToSql<Jsonb, Pg>>::to_sql(&self.0, out)
    }
}

impl FromSql<PJson, Pg> for DbJson {
    fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
        <serde_json::Value as FromSql<Jsonb, Pg>>::from_sql(bytes).map(DbJson)
    }
}

impl ToSql<PJson, Sqlite> for DbJson {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(serde_json::to_string(&self.0)?);
        Ok(IsNull::No)
    }
}

impl FromSql<PJson, Sqlite> for DbJson {
    fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        Ok(DbJson(serde_json::from_str(value.read_text())?))
    }
}

/// Declares a closed set of values stored as TEXT, with `as_str`/`FromStr`, serde and diesel
/// impls for both backends. The strings are wire names that psql queries and the runbook use.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, AsExpression, FromSqlRow)]
        #[serde(rename_all = "lowercase")]
        #[diesel(sql_type = Text)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The text stored in the database and shown on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(concat!("unknown ", stringify!($name), " {:?}"), other)),
                }
            }
        }

        impl<DB> ToSql<Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                <str as ToSql<Text, DB>>::to_sql(self.as_str(), out)
            }
        }

        impl<DB> FromSql<Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                let text = <String as FromSql<Text, DB>>::from_sql(bytes)?;
                Ok(text.parse::<$name>()?)
            }
        }
    };
}

text_enum! {
    /// Lifecycle of a task row; also the state machine of the embedded queue.
    TaskState {
        /// Waiting in its queue until `available_at`.
        Queued => "queued",
        /// Claimed by a worker that holds it until `lease_until`.
        Running => "running",
        /// Finished successfully.
        Done => "done",
        /// Failed with no retries left.
        Failed => "failed",
    }
}

text_enum! {
    /// Lifecycle of a snapshot: only `completed` snapshots are served as "latest".
    SnapshotStatus {
        /// A job is building its artifacts.
        Processing => "processing",
        /// Every artifact was written; the snapshot can be served.
        Completed => "completed",
        /// The job that built it failed.
        Failed => "failed",
    }
}
