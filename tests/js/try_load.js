// Try tf.loadLayersModel over HTTP on each model and report whether TF.js accepts it.
// usage: node try_load.js ROOT MODEL_SUBDIR...   (models are dirs under ROOT, each with model.json)
// Prints one JSON line per model: {"model", "loaded": true} or {"model", "loaded": false, "error"}.
'use strict';

const {tf, serveDirectory, emit, runMain} = require('./common');

async function main() {
  const [root, ...models] = process.argv.slice(2);
  const {server, url} = await serveDirectory(root);
  try {
    for (const name of models) {
      try {
        const model = await tf.loadLayersModel(`${url}/${name}/model.json`);
        model.dispose();
        emit({model: name, loaded: true});
      } catch (err) {
        emit({model: name, loaded: false, error: String(err && err.message ? err.message : err)});
      }
    }
  } finally {
    server.close();
  }
}

runMain(main);
