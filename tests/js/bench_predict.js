// Benchmark: TF.js (pure-JS CPU backend, as in the article's browser app without WebGL) loading a
// layers model over HTTP and predicting one [1, 28, 28, 1] image at a time.
// usage: node bench_predict.js MODEL_DIR INPUTS.f32 N_IMAGES REPEATS
// Prints one JSON line: {"load_ms": [...], "predict_ms": [...], "digits": [...]}.
'use strict';

const {performance} = require('perf_hooks');
const {tf, serveDirectory, readFloat32, emit, runMain} = require('./common');

async function main() {
  const [modelDir, inputs, nImages, repeats] = process.argv.slice(2);
  const n = Number(nImages);
  const x = readFloat32(inputs, [n, 28, 28, 1]);
  const {server, url} = await serveDirectory(modelDir);
  const loadMs = [];
  let model;
  try {
    for (let i = 0; i < 3; i++) {
      const start = performance.now();
      if (model) model.dispose();
      model = await tf.loadLayersModel(`${url}/model.json`);
      loadMs.push(performance.now() - start);
    }
  } finally {
    server.close();
  }
  const images = tf.split(x, n);
  const predictMs = [];
  const digits = [];
  for (let r = 0; r < Number(repeats) + 1; r++) {
    for (const image of images) {
      const start = performance.now();
      const y = model.predict(image);
      const probs = await y.data(); // include the read-back, as an app must
      const elapsed = performance.now() - start;
      y.dispose();
      if (r === 0) {
        digits.push(probs.indexOf(Math.max(...probs)));
      } else {
        predictMs.push(elapsed); // the first pass is warm-up
      }
    }
  }
  emit({backend: tf.getBackend(), load_ms: loadMs, predict_ms: predictMs, digits});
}

runMain(main);
