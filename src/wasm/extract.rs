//! WASM bindings for forward and reply extraction.
