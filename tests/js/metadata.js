// Load one model with tf.loadLayersModel over HTTP; print its probabilities on given inputs and the
// userDefinedMetadata TF.js read from its model.json.
// usage: node metadata.js MODEL_DIR INPUTS.f32 N H W C
'use strict';

const {tf, serveDirectory, readFloat32, emit, runMain} = require('./common');

async function main() {
  const [dir, inputs, n, h, w, c] = process.argv.slice(2);
  const x = readFloat32(inputs, [n, h, w, c].map(Number));
  const {server, url} = await serveDirectory(dir);
  try {
    const model = await tf.loadLayersModel(`${url}/model.json`);
    const y = model.predict(x);
    emit({shape: y.shape, probs: Array.from(await y.data()), metadata: model.getUserDefinedMetadata()});
  } finally {
    server.close();
  }
}

runMain(main);
