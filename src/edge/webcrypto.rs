//! ES256 with the platform's Web Crypto (`crypto.subtle`): the runtime's native ECDSA instead of
//! elliptic-curve code in the wasm.

use js_sys::{Array, Function, Promise, Reflect, Uint8Array, JSON};
use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

fn member(of: &JsValue, name: &str) -> Result<JsValue, String> {
    Reflect::get(of, &JsValue::from_str(name)).map_err(|_| format!("{name} is not available"))
}

fn json(value: &str) -> Result<JsValue, String> {
    JSON::parse(value).map_err(|_| "invalid JSON for Web Crypto".to_owned())
}

/// Calls `subtle.<name>(...args)` and awaits the promise.
async fn subtle_call(subtle: &JsValue, name: &str, args: &Array) -> Result<JsValue, String> {
    let function: Function = member(subtle, name)?
        .dyn_into()
        .map_err(|_| format!("crypto.subtle.{name} is not a function"))?;
    let promise: Promise = function
        .apply(subtle, args)
        .map_err(|_| format!("crypto.subtle.{name} threw"))?
        .dyn_into()
        .map_err(|_| format!("crypto.subtle.{name} did not return a promise"))?;
    // Rejections carry no key material; say which step failed.
    JsFuture::from(promise)
        .await
        .map_err(|_| format!("crypto.subtle.{name} failed (is the key a valid P-256 key?)"))
}

/// Signs `message` with ECDSA P-256 / SHA-256 under the private JWK `jwk`; the signature is the
/// 64-byte `r || s` (IEEE P1363) that JWS ES256 wants.
pub async fn es256(jwk: &Value, message: &[u8]) -> Result<Vec<u8>, String> {
    let crypto = member(&js_sys::global(), "crypto")?;
    let subtle = member(&crypto, "subtle")?;
    let usages = Array::of1(&JsValue::from_str("sign"));
    let import = Array::of5(
        &JsValue::from_str("jwk"),
        &json(&jwk.to_string())?,
        &json(r#"{"name":"ECDSA","namedCurve":"P-256"}"#)?,
        &JsValue::FALSE,
        &usages,
    );
    let key = subtle_call(&subtle, "importKey", &import).await?;
    let data = Uint8Array::from(message);
    let sign = Array::of3(&json(r#"{"name":"ECDSA","hash":"SHA-256"}"#)?, &key, &data);
    let signature = subtle_call(&subtle, "sign", &sign).await?;
    Ok(Uint8Array::new(&signature).to_vec())
}
