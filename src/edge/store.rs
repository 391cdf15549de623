//! The Durable Object's SQLite behind the service's [`Store`] seam.

use wasm_bindgen::closure::ScopedClosure;
use wasm_bindgen::{JsCast, JsValue};
use worker::{SqlStorage, SqlStorageValue, Storage};

use crate::service::store::{Row, SqlValue, Store, StoreError};

pub struct DoStore {
    sql: SqlStorage,
    storage: Storage,
}

impl DoStore {
    pub fn new(storage: Storage) -> Self {
        DoStore {
            sql: storage.sql(),
            storage,
        }
    }

    /// The object's storage, for what SQL does not cover (alarms).
    pub fn storage(&self) -> &Storage {
        &self.storage
    }
}

fn to_do(v: &SqlValue) -> SqlStorageValue {
    match v {
        SqlValue::Null => SqlStorageValue::Null,
        SqlValue::Integer(i) => SqlStorageValue::Integer(*i),
        SqlValue::Real(f) => SqlStorageValue::Float(*f),
        SqlValue::Text(s) => SqlStorageValue::String(s.clone()),
        SqlValue::Blob(b) => SqlStorageValue::Blob(b.clone()),
    }
}

fn from_do(v: SqlStorageValue) -> SqlValue {
    match v {
        SqlStorageValue::Null => SqlValue::Null,
        SqlStorageValue::Boolean(b) => SqlValue::Integer(i64::from(b)),
        SqlStorageValue::Integer(i) => SqlValue::Integer(i),
        SqlStorageValue::Float(f) => SqlValue::Real(f),
        SqlStorageValue::String(s) => SqlValue::Text(s),
        SqlStorageValue::Blob(b) => SqlValue::Blob(b),
    }
}

impl Store for DoStore {
    fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StoreError> {
        let bindings: Vec<SqlStorageValue> = params.iter().map(to_do).collect();
        let cursor = self
            .sql
            .exec(sql, bindings)
            .map_err(|e| StoreError(e.to_string()))?;
        cursor
            .raw()
            .map(|row| {
                row.map(|values| values.into_iter().map(from_do).collect())
                    .map_err(|e| StoreError(e.to_string()))
            })
            .collect()
    }

    /// `storage.transactionSync(fn)`: SQL statements run inside commit together, and a throw
    /// from `fn` rolls them all back (`BEGIN`/`SAVEPOINT` are not allowed in Durable Objects).
    fn atomically(&self, body: &mut dyn FnMut() -> bool) -> Result<(), StoreError> {
        let storage: &JsValue = self.storage.as_raw().as_ref();
        let transaction_sync = js_sys::Reflect::get(storage, &JsValue::from_str("transactionSync"))
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
            .ok_or_else(|| StoreError("storage.transactionSync is not available".into()))?;
        let mut run = || -> Result<JsValue, JsValue> {
            if body() {
                Ok(JsValue::UNDEFINED)
            } else {
                Err(JsValue::from_str(ROLLBACK))
            }
        };
        let closure: ScopedClosure<dyn FnMut() -> Result<JsValue, JsValue>> =
            ScopedClosure::borrow_mut_aborting(&mut run);
        match transaction_sync.call1(storage, closure.as_js_value()) {
            Ok(_) => Ok(()),
            Err(e) if e.as_string().as_deref() == Some(ROLLBACK) => Ok(()),
            Err(e) => Err(StoreError(format!("transactionSync failed: {e:?}"))),
        }
    }
}

/// What the body throws to make `transactionSync` roll back; not an error to the caller.
const ROLLBACK: &str = "scim-edge:rollback";
