//! N-API entry point of the email SMTP transport (native only: the wasm build has no sockets).

use napi::bindgen_prelude::*;
use napi::JsValue;
use napi_derive::napi;
use serde_json::Value;
use usebetter_core::email::EmailError;

use crate::{core_err, Code};

/// The message's bytes; anything but a `Uint8Array` (a `Buffer` is one) is refused by name.
fn bytes(v: Unknown<'_>) -> Result<Vec<u8>, Code> {
    let refused = || {
        core_err(
            &EmailError::InvalidArgument {
                field: "message".into(),
                reason: "expected a Uint8Array of the MIME bytes".into(),
            }
            .into(),
        )
    };
    if !v.is_typedarray().unwrap_or(false) {
        return Err(refused());
    }
    Uint8Array::from_unknown(v)
        .map(|a| a.to_vec())
        .map_err(|_| refused())
}

/// Sends one message over SMTP; resolves to its outcome (every failure of the exchange is data
/// in it). Bad arguments throw at once, before any connection, with `EMAIL_INVALID_ARGUMENT` or
/// `EMAIL_INVALID_ADDRESS` naming the field.
#[napi(ts_return_type = "Promise<SmtpSendResult>")]
pub fn email_smtp_send<'env>(
    env: &'env Env,
    options: Unknown<'_>,
    envelope: Unknown<'_>,
    message: Unknown<'_>,
) -> Result<PromiseRaw<'env, Value>, Code> {
    let options = crate::args::json("options", options).map_err(|e| core_err(&e))?;
    let envelope = crate::args::json("envelope", envelope).map_err(|e| core_err(&e))?;
    let message = bytes(message)?;
    let job =
        usebetter_cli::smtp::prepare(&options, &envelope, &message).map_err(|e| core_err(&e))?;
    env.spawn_future(async move { Ok(usebetter_cli::smtp::send(job).await) })
        .map_err(|e| Error::new(Code("INTERNAL"), e.reason.clone()))
}
