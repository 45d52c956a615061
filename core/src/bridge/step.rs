//! The send conversation's steps as the webhooks and email packages see them: JSON text each
//! way. A 1,000-message batch handed over value by value cost tens of milliseconds in either
//! binding's conversion; one string costs a copy, and V8's `JSON.parse` is fast.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::input::from_value;

/// What the caller does next: run `run` (a statement name and its parameters) and call
/// `send_next` with the rows, or take `results`. `state` is opaque to the caller.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SendStep {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) run: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) results: Option<Value>,
    /// With `run`, when the statement inserts every message of the call: their ids in insert
    /// order. The statement then returns one row per id, in that order, with `created_ms`, and
    /// those are the results (`queued`): the caller may skip `send_next`, which answers the same.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) queued: Option<Vec<String>>,
    /// With `run`: the conversation's last statement (nothing is written after it). A caller
    /// without a transaction of its own runs a first step that is not the last in a new one,
    /// so that no statement commits without the rest.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) last: bool,
}

/// JSON text argument `arg` as a value.
pub(crate) fn parse_text(arg: &str, text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| Error::InvalidArgument {
        field: arg.into(),
        reason: format!("not JSON text: {e}"),
    })
}

/// JSON text argument `arg` as `T`. Well-formed text (every call from the packages) is read
/// straight into `T`; only text that does not fit goes through a value, to name the field that
/// refused (`inputs[3].eventType`).
pub(crate) fn from_text<T: DeserializeOwned>(arg: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).or_else(|e| {
        from_value::<T>(arg, &parse_text(arg, text)?)?;
        Err(Error::InvalidArgument {
            field: arg.into(),
            reason: e.to_string(),
        })
    })
}

pub(crate) fn to_text<T: Serialize>(arg: &str, v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::InvalidArgument {
        field: arg.into(),
        reason: e.to_string(),
    })
}

pub(crate) fn step_text(step: &SendStep) -> Result<String> {
    to_text("result", step)
}
