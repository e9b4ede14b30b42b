//! Reading tagged JSON by hand.
//!
//! serde's derive reads an internally tagged enum (`{"state": "sending", "leaseUntil": …}`), a
//! flattened one, or an untagged one by first buffering the whole value into its generic
//! `Content` tree and then trying the variants on that: about 18 KB of WebAssembly per enum,
//! which made these readers a tenth of the browser engine. The types that cross the JS boundary
//! that way (outbox entries, delivery outcomes, endpoint settings, triggers, compose addresses
//! and ids) are read instead into one flat struct of optional fields, which the derive handles
//! directly, and checked by hand next to the type; the JSON is the same either way (round trips
//! and error messages in tests/outbox.rs and tests/hand_read_json.rs).

/// A field the chosen variant needs: its value, or serde's own "missing field" error.
pub(crate) fn required<T, E: serde::de::Error>(
    value: Option<T>,
    field: &'static str,
) -> Result<T, E> {
    value.ok_or_else(|| E::missing_field(field))
}
