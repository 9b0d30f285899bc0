// Shared helpers for the TF.js test scripts: quiet tfjs import, a static 127.0.0.1 file server
// (plain @tensorflow/tfjs in Node has no file:// loader, so models load over real HTTP exactly as
// in a browser), and float32 input/output files.
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');

// tfjs prints a "use tfjs-node for speed" hint on import; our tests deliberately use the pure-JS
// CPU backend, so silence that one line and keep stdout for JSON results.
const warn = console.warn;
console.warn = () => {};
const tf = require('@tensorflow/tfjs');
console.warn = warn;

function serveDirectory(root) {
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url, 'http://127.0.0.1').pathname);
    const file = path.join(root, path.normalize(rel));
    if (!file.startsWith(path.resolve(root)) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, {'Connection': 'close'});
      res.end('not found');
      return;
    }
    // Connection: close - a predict() between two loads outlasts Node's 5 s keep-alive timeout, and
    // fetch would then reuse a socket the server is closing (ECONNRESET).
    res.writeHead(200, {
      'Content-Type': file.endsWith('.json') ? 'application/json' : 'application/octet-stream',
      'Connection': 'close',
    });
    res.end(fs.readFileSync(file));
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({server, url: `http://127.0.0.1:${server.address().port}`}));
  });
}

function readFloat32(file, shape) {
  const buf = fs.readFileSync(file);
  const values = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  return tf.tensor(Float32Array.from(values), shape);
}

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

// Run a script's async main; on failure print the stack (and a fetch error's cause) and exit 1, so
// the Python side's failure message carries the real TF.js error.
function runMain(main) {
  main().catch((err) => {
    console.error(err && err.stack ? err.stack : err, err && err.cause ? err.cause : '');
    process.exit(1);
  });
}

module.exports = {tf, serveDirectory, readFloat32, emit, runMain};
