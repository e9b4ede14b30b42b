// The Outlook add-in's part of the webpack build → dist/outlook/:
//
//   taskpane.html/.js/.css   the pane (compose: Log checkbox; read: "Log this email", thread tracking; outbox; settings)
//   commands.html/.js        event handlers and function commands in browser runtimes (WebAssembly engine)
//   launchevent.js           the single ES2016 script classic Outlook on Windows runs event handlers from
//   engine.*.js, *.wasm      the engine (dist/engine/web from scripts/build-wasm), loaded on demand
//   assets/, support.html    icons and the support page the manifests point to
//   manifest.xml, manifest.json (+ ja-jp.json, pl-pl.json, color.png, outline.png)
//                            rendered for the base URL given as `--env outlookBaseUrl=https://host/path/`
//                            (or MAILTRAIL_OUTLOOK_BASE_URL), default https://localhost:8787/addin/;
//                            for a real deployment use `mailtrail outlook-manifest --base-url …`.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { renderManifests, packageVersion } from './manifest/render.js';

const require = createRequire(import.meta.url);
const CopyPlugin = require('copy-webpack-plugin');

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');

export const DEFAULT_BASE_URL = 'https://localhost:8787/addin/';

/** Emits the manifests rendered for the build's base URL. */
class ManifestPlugin {
  constructor(baseUrl) {
    this.baseUrl = baseUrl;
  }
  apply(compiler) {
    const { RawSource } = compiler.webpack.sources;
    compiler.hooks.thisCompilation.tap('MailtrailOutlookManifests', (compilation) => {
      compilation.hooks.processAssets.tap({ name: 'MailtrailOutlookManifests', stage: compiler.webpack.Compilation.PROCESS_ASSETS_STAGE_ADDITIONAL }, () => {
        const files = renderManifests(this.baseUrl, packageVersion());
        for (const [name, data] of Object.entries(files)) compilation.emitAsset(name, new RawSource(data));
      });
      for (const name of ['manifest.xml', 'manifest.json', 'ja-jp.json', 'pl-pl.json']) {
        compilation.fileDependencies.add(path.join(here, 'manifest', name));
      }
    });
  }
}

export default function outlook(env = {}, argv = {}) {
  const mode = argv.mode || env.mode || 'production';
  const baseUrl = env.outlookBaseUrl || process.env.MAILTRAIL_OUTLOOK_BASE_URL || DEFAULT_BASE_URL;
  return {
    name: 'outlook',
    mode,
    context: here,
    // ES2016 for webpack's own runtime code: launchevent.js must parse in classic Outlook's
    // JavaScript-only runtime (tests/js/outlook_classic.test.mjs checks the emitted file).
    target: ['web', 'es2016'],
    entry: {
      taskpane: './src/taskpane/taskpane.js',
      commands: './src/commands/commands.js',
      launchevent: './src/classic/launchevent.js',
    },
    output: {
      path: path.join(root, 'dist', 'outlook'),
      filename: '[name].js',
      chunkFilename: '[name].[contenthash:8].js',
      assetModuleFilename: '[name].[contenthash:8][ext]',
      publicPath: 'auto',
      clean: true,
    },
    resolve: {
      alias: { 'mailtrail-engine': path.join(root, 'dist', 'engine', 'web', 'mailtrail.js') },
    },
    devtool: mode === 'development' ? 'source-map' : false,
    optimization: {
      // One file per entry: classic Outlook loads exactly one script, and the pages stay simple.
      splitChunks: false,
      runtimeChunk: false,
    },
    performance: { hints: false },
    plugins: [
      new CopyPlugin({
        patterns: [
          { from: 'src/taskpane/taskpane.html', to: 'taskpane.html' },
          { from: 'src/taskpane/taskpane.css', to: 'taskpane.css' },
          { from: 'src/commands/commands.html', to: 'commands.html' },
          { from: 'src/support.html', to: 'support.html' },
          { from: 'assets/*.png', to: 'assets/[name][ext]' },
        ],
      }),
      new ManifestPlugin(baseUrl),
    ],
  };
}
