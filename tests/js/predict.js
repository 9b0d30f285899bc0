// Load models with tf.loadLayersModel over HTTP and print their probabilities on given inputs.
// usage: node predict.js ROOT INPUTS.f32 N H W C MODEL_SUBDIR...   (models are dirs under ROOT)
// Prints one JSON line per model: {"model", "shape", "probs": flat row-major float32 values}.
'use strict';

const {tf, serveDirectory, readFloat32, emit, runMain} = require('./common');

async function main() {
  const [root, inputs, n, h, w, c, ...models] = process.argv.slice(2);
  const x = readFloat32(inputs, [n, h, w, c].map(Number));
  const {server, url} = await serveDirectory(root);
  try {
    for (const name of models) {
      const model = await tf.loadLayersModel(`${url}/${name}/model.json`);
      const y = model.predict(x);
      emit({model: name, shape: y.shape, probs: Array.from(await y.data())});
      y.dispose();
      model.dispose();
    }
  } finally {
    server.close();
  }
}

runMain(main);
