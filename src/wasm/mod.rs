//! The WebAssembly face of the engine (`wasm-bindgen`). Only compiled for wasm32.

mod extract;
