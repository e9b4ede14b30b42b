// One webpack build for both clients. Each client keeps its own part next to its code
// (entries, copied static files, output folder); this file only puts them together.
//
//   npx webpack --mode production      → dist/chrome/ and dist/outlook/
//
// Both parts bundle the same WebAssembly engine from dist/engine/web (scripts/build-wasm).
import chrome from './extension/chrome/webpack.part.js';
import outlook from './extension/outlook/webpack.part.js';

export default (env = {}, argv = {}) => [chrome(env, argv), outlook(env, argv)];
