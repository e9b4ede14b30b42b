// Loads the WebAssembly engine (dist/engine/web, built by scripts/build-wasm) in a browser
// runtime. A dynamic import, so a runtime where the engine cannot load (no WebAssembly, no
// TextDecoder) still runs the handlers' fallback path instead of failing to load the page.
let loading = null;

export function loadEngine() {
  if (!loading) {
    loading = import(/* webpackChunkName: "engine" */ 'mailtrail-engine').then(async (engine) => {
      if (typeof WebAssembly !== 'object') throw Object.assign(new Error('WebAssembly is not available in this Outlook runtime'), { code: 'no-webassembly' });
      await engine.default();
      return engine;
    });
    loading.catch(() => {
      loading = null; // a later call may try again (e.g. the .wasm download failed)
    });
  }
  return loading;
}
