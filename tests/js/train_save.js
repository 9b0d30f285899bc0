// Build a small CNN in TF.js itself, train it for a few steps, save it the way tfjs-node's file://
// handler does (DIR/model.json + DIR/weights.bin, one group with paths ["weights.bin"]), and print
// its probabilities on the given inputs so Python can check our reader reproduces them.
// usage: node train_save.js OUT_ROOT INPUTS.f32 N LABELS.json KIND...   KIND: sequential | functional
// Each KIND is saved to OUT_ROOT/KIND and printed as one JSON line {"model", "shape", "probs"}.
'use strict';

const fs = require('fs');
const path = require('path');
const {tf, readFloat32, emit, runMain} = require('./common');

function build(kind) {
  const conv = () => tf.layers.conv2d({filters: 8, kernelSize: 3, activation: 'relu'});
  if (kind === 'sequential') {
    return tf.sequential({layers: [
      tf.layers.conv2d({inputShape: [28, 28, 1], filters: 8, kernelSize: 3, activation: 'relu'}),
      tf.layers.zeroPadding2d({padding: [2, 1]}),
      tf.layers.batchNormalization(),
      tf.layers.maxPooling2d({poolSize: 2}),
      tf.layers.flatten(),
      tf.layers.dropout({rate: 0.25}),
      tf.layers.dense({units: 10, activation: 'softmax'}),
    ]});
  }
  const input = tf.input({shape: [28, 28, 1]});
  let y = conv().apply(input);
  y = tf.layers.zeroPadding2d({padding: [[1, 2], [0, 3]]}).apply(y);
  y = tf.layers.batchNormalization().apply(y);
  y = tf.layers.averagePooling2d({poolSize: 2}).apply(y);
  y = tf.layers.flatten().apply(y);
  y = tf.layers.dense({units: 10, activation: 'softmax'}).apply(y);
  return tf.model({inputs: input, outputs: y});
}

async function main() {
  const [outRoot, inputs, n, labelsFile, ...kinds] = process.argv.slice(2);
  const x = readFloat32(inputs, [Number(n), 28, 28, 1]);
  const labels = JSON.parse(fs.readFileSync(labelsFile, 'utf8'));
  const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 10);
  for (const kind of kinds) {
    await trainAndSave(path.join(outRoot, kind), kind, x, y);
  }
}

async function trainAndSave(outDir, kind, x, y) {
  const model = build(kind);
  model.compile({optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy'});
  // two optimizer steps are enough to move every weight (and BN statistics) off its initial value
  await model.fit(x.slice(0, 128), y.slice(0, 128), {epochs: 1, batchSize: 64, verbose: 0});
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    fs.mkdirSync(outDir, {recursive: true});
    const manifest = [{paths: ['weights.bin'], weights: artifacts.weightSpecs}];
    const modelJSON = {
      modelTopology: artifacts.modelTopology,
      format: artifacts.format,
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy,
      weightsManifest: manifest,
    };
    fs.writeFileSync(path.join(outDir, 'model.json'), JSON.stringify(modelJSON));
    fs.writeFileSync(path.join(outDir, 'weights.bin'), Buffer.from(artifacts.weightData));
    return {modelArtifactsInfo: {dateSaved: new Date(), modelTopologyType: 'JSON'}};
  }));
  const probs = model.predict(x);
  emit({model: kind, shape: probs.shape, probs: Array.from(await probs.data())});
}

runMain(main);
