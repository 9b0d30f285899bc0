// Save a small TF.js model exactly as a browser's model.save('downloads://NAME') does, and print its
// probabilities. TF.js's own BrowserDownloads handler runs; only the browser around it is stubbed
// (an anchor whose click hands us the Blob), so model.json really says paths ["./NAME.weights.bin"].
// usage: node browser_save.js OUT_DIR NAME INPUTS.f32 N
// Writes OUT_DIR/NAME.json and OUT_DIR/NAME.weights.bin; prints {"model", "shape", "probs", "paths"}.
'use strict';

const fs = require('fs');
const path = require('path');
const {tf, readFloat32, emit, runMain} = require('./common');

function fakeBrowser(outDir) {
  const blobs = new Map();
  const written = [];
  global.window = {URL: {createObjectURL: (blob) => {
    const url = `blob:${blobs.size}`;
    blobs.set(url, blob);
    return url;
  }}};
  global.MouseEvent = class { constructor(type) { this.type = type; } };
  global.document = {createElement: () => ({
    dispatchEvent() {  // the "click" that a browser turns into a download
      written.push(blobs.get(this.href).arrayBuffer().then((data) => {
        fs.writeFileSync(path.join(outDir, this.download), Buffer.from(data));
        return this.download;
      }));
      return true;
    },
  })};
  return written;
}

async function main() {
  const [outDir, name, inputs, n] = process.argv.slice(2);
  const x = readFloat32(inputs, [Number(n), 28, 28, 1]);
  const model = tf.sequential({layers: [
    tf.layers.conv2d({inputShape: [28, 28, 1], filters: 4, kernelSize: 5, strides: 2, activation: 'relu'}),
    tf.layers.maxPooling2d({poolSize: 2}),
    tf.layers.flatten(),
    tf.layers.dense({units: 10, activation: 'softmax'}),
  ]});
  fs.mkdirSync(outDir, {recursive: true});
  const written = fakeBrowser(outDir);
  tf.env().set('IS_BROWSER', true);  // the downloads:// router only answers in a browser
  try {
    await model.save(`downloads://${name}`);  // TF.js's own BrowserDownloads handler
  } finally {
    tf.env().set('IS_BROWSER', false);
  }
  await Promise.all(written);
  const modelJSON = JSON.parse(fs.readFileSync(path.join(outDir, `${name}.json`), 'utf8'));
  const probs = model.predict(x);
  emit({
    model: name,
    shape: probs.shape,
    probs: Array.from(await probs.data()),
    paths: modelJSON.weightsManifest[0].paths,
  });
}

runMain(main);
