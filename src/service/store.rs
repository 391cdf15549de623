//! The storage seam: the SQL the connection service runs, over either the Durable Object's SQLite
//! (edge adapter) or an embedded SQLite (host tests, benchmarks). Same statements, same results.

use crate::scim::ScimError;

/// One SQLite value, as bound to a `?` placeholder or read from a column.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl SqlValue {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            SqlValue::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            SqlValue::Integer(i) => Some(*i),
            // The Durable Object's JS boundary hands back whole floats for integers.
            SqlValue::Real(f) if f.fract() == 0.0 => Some(*f as i64),
            _ => None,
        }
    }

    pub fn as_blob(&self) -> Option<&[u8]> {
        match self {
            SqlValue::Blob(b) => Some(b),
            _ => None,
        }
    }
}

impl From<&str> for SqlValue {
    fn from(s: &str) -> Self {
        SqlValue::Text(s.to_owned())
    }
}

impl From<String> for SqlValue {
    fn from(s: String) -> Self {
        SqlValue::Text(s)
    }
}

impl From<i64> for SqlValue {
    fn from(i: i64) -> Self {
        SqlValue::Integer(i)
    }
}

impl From<bool> for SqlValue {
    fn from(b: bool) -> Self {
        SqlValue::Integer(i64::from(b))
    }
}

impl From<Vec<u8>> for SqlValue {
    fn from(b: Vec<u8>) -> Self {
        SqlValue::Blob(b)
    }
}

impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

/// One result row, columns in `SELECT` order.
pub type Row = Vec<SqlValue>;

/// A storage failure. Its message is for the log, never for the client.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "store: {}", self.0)
    }
}

impl From<StoreError> for ScimError {
    fn from(e: StoreError) -> Self {
        // The cause goes to the log by the edge adapter; the client gets a generic detail.
        ScimError::internal_because(e.to_string())
    }
}

/// SQL over one connection's database.
pub trait Store {
    /// Runs one statement with `?` placeholders bound to `params`, returning its rows.
    fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StoreError>;

    /// Runs `body` atomically: every write it made commits when it returns `true`, none when it
    /// returns `false`.
    fn atomically(&self, body: &mut dyn FnMut() -> bool) -> Result<(), StoreError>;

    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<(), StoreError> {
        self.query(sql, params).map(|_| ())
    }

    /// The first row, if any.
    fn query_one(&self, sql: &str, params: &[SqlValue]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

/// Runs `f` in one transaction: all its writes land if it returns `Ok`, none if it returns `Err`.
pub fn transact<S, T, E, F>(store: &S, f: F) -> Result<T, E>
where
    S: Store + ?Sized,
    E: From<StoreError>,
    F: FnOnce() -> Result<T, E>,
{
    let mut f = Some(f);
    let mut outcome: Option<Result<T, E>> = None;
    store.atomically(&mut || match f.take() {
        Some(f) => {
            let result = f();
            let commit = result.is_ok();
            outcome = Some(result);
            commit
        }
        None => false,
    })?;
    outcome.unwrap_or_else(|| Err(StoreError("transaction body did not run".into()).into()))
}

/// Reads column `i` of a row as text.
pub fn text(row: &Row, i: usize) -> Result<String, StoreError> {
    row.get(i)
        .and_then(SqlValue::as_str)
        .map(str::to_owned)
        .ok_or_else(|| StoreError(format!("column {i} is not text")))
}

/// Reads column `i` of a row as optional text.
pub fn opt_text(row: &Row, i: usize) -> Option<String> {
    row.get(i).and_then(SqlValue::as_str).map(str::to_owned)
}

/// Reads column `i` of a row as an integer.
pub fn int(row: &Row, i: usize) -> Result<i64, StoreError> {
    row.get(i)
        .and_then(SqlValue::as_i64)
        .ok_or_else(|| StoreError(format!("column {i} is not an integer")))
}
