// The Chrome extension's part of the webpack build: bundles the service worker (with the
// WebAssembly engine from dist/engine/web, built by scripts/build-wasm), the content script,
// the MAIN-world page hook, the popup and the options page into the unpacked extension at
// dist/chrome/ (load it with chrome://extensions → "Load unpacked", or zip it with
// scripts/package-chrome).
//
// Every entry is one self-contained file (no split chunks): content scripts cannot load
// chunks, and the worker must register its listeners synchronously on start.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import CopyPlugin from 'copy-webpack-plugin';
import { withReasonMessages } from '../shared/reasons/chrome_messages.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');

export default function chrome(env = {}, argv = {}) {
  const mode = argv.mode || env.mode || 'production';
  return {
    name: 'chrome',
    mode,
    context: here,
    entry: {
      worker: './src/background/worker.js',
      content: './src/content/main.js',
      'page-hook': './src/page/hook.js',
      popup: './src/popup/popup.js',
      options: './src/options/options.js',
    },
    output: {
      path: path.join(root, 'dist/chrome'),
      filename: '[name].js',
      // The engine's .wasm (referenced by the wasm-bindgen glue with new URL(…, import.meta.url)).
      assetModuleFilename: 'engine/[name][ext]',
      publicPath: '/',
      clean: true,
    },
    resolve: {
      alias: { '@mailtrail/engine': path.join(root, 'dist/engine/web/mailtrail.js') },
    },
    // Extension pages forbid eval: no eval-based source maps, even in development.
    devtool: mode === 'production' ? false : 'cheap-source-map',
    optimization: { splitChunks: false, runtimeChunk: false },
    performance: { hints: false },
    plugins: [
      new CopyPlugin({
        patterns: [
          { from: 'manifest.json' },
          { from: 'managed_schema.json' },
          {
            // Reason texts come from extension/shared/reasons/<lang>.json (shared with the
            // Outlook add-in and the endpoint's web UI) and are merged in here.
            from: '_locales',
            to: '_locales',
            transform: (content, file) => withReasonMessages(content.toString('utf8'), path.basename(path.dirname(file))),
          },
          { from: 'icons', to: 'icons' },
          { from: 'src/popup/popup.html' },
          { from: 'src/popup/popup.css' },
          { from: 'src/options/options.html' },
          { from: 'src/options/options.css' },
          { from: 'src/content/content.css' },
        ],
      }),
    ],
  };
}
