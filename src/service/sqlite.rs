//! The embedded SQLite store for host tests and benchmarks: the same SQL as the Durable Object.

use std::cell::RefCell;

use rusqlite::types::{Value as RValue, ValueRef};
use rusqlite::Connection;

use super::store::{Row, SqlValue, Store, StoreError};

pub struct SqliteStore {
    conn: RefCell<Connection>,
}

impl SqliteStore {
    /// A fresh in-memory database.
    pub fn in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(err)?;
        Ok(SqliteStore {
            conn: RefCell::new(conn),
        })
    }

    /// A database file on disk.
    pub fn open(path: &std::path::Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(err)?;
        Ok(SqliteStore {
            conn: RefCell::new(conn),
        })
    }
}

fn err(e: rusqlite::Error) -> StoreError {
    StoreError(e.to_string())
}

fn to_rusqlite(v: &SqlValue) -> RValue {
    match v {
        SqlValue::Null => RValue::Null,
        SqlValue::Integer(i) => RValue::Integer(*i),
        SqlValue::Real(f) => RValue::Real(*f),
        SqlValue::Text(s) => RValue::Text(s.clone()),
        SqlValue::Blob(b) => RValue::Blob(b.clone()),
    }
}

fn from_rusqlite(v: ValueRef<'_>) -> SqlValue {
    match v {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(i) => SqlValue::Integer(i),
        ValueRef::Real(f) => SqlValue::Real(f),
        ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
    }
}

impl Store for SqliteStore {
    fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StoreError> {
        let conn = self.conn.borrow();
        let mut stmt = conn.prepare_cached(sql).map_err(err)?;
        let columns = stmt.column_count();
        let bound: Vec<RValue> = params.iter().map(to_rusqlite).collect();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(bound.iter()))
            .map_err(err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(from_rusqlite(row.get_ref(i).map_err(err)?));
            }
            out.push(values);
        }
        Ok(out)
    }

    fn atomically(&self, body: &mut dyn FnMut() -> bool) -> Result<(), StoreError> {
        self.conn
            .borrow()
            .execute_batch("SAVEPOINT atomically")
            .map_err(err)?;
        let commit = body();
        let end = if commit {
            "RELEASE atomically"
        } else {
            "ROLLBACK TO atomically; RELEASE atomically"
        };
        self.conn.borrow().execute_batch(end).map_err(err)
    }
}
