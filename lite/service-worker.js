/* The site's one service worker (lite/build.py fills in VERSION and PRECACHE).
 *
 * 1. JupyterLite's own duties, kept as in jupyterlite 0.6.4's service-worker.js: the kernel's
 *    /api/drive and /api/stdin requests are forwarded to the page over the BroadcastChannel
 *    "/sw-api.v1"; /api/service-worker-heartbeat answers "ok". JupyterLite registers this file
 *    under its own URL (service-worker.js?enableCache=false): one scope, one worker.
 * 2. A versioned precache, Workbox's model: PRECACHE lists every file of the build (path, sha256);
 *    VERSION is the hash of that list, so a rebuilt site is a byte-different worker.
 *    - First install: the worker activates at once (the kernel needs the drive forwarding), and
 *      fills its cache in the background once the site has been quiet for QUIET ms (no request
 *      from its pages and kernels: the notebook has loaded and run), so saving the rest of the
 *      site for offline use never competes with the first visit's own downloads; until then,
 *      misses go to the network (the same build), and what they fetch is kept.
 *    - Update: the new worker fills its own cache beside the old one during install (unchanged
 *      files are copied from the old cache, changed ones downloaded and checked against their
 *      sha256), then waits. It takes over when every tab of the old version is closed, or when
 *      the page asks (the "reload" button: SKIP_WAITING). On activation it deletes the old caches.
 *      A page is served by one worker, from one cache, for its whole life: builds never mix.
 *    - Every request for a file of the site is answered from the cache, network or not (query
 *      strings are cache busters and are ignored); conditional requests get a 304 from the cached
 *      validators, so the model store's revalidation works offline too.
 */
'use strict';

const VERSION = '@VERSION@';
const PRECACHE = '@PRECACHE@'; // [[path relative to this file, sha256 hex], ...]
const OFFLINE_PAGE = 'offline.html';
const PREFIX = 'mnist-widgets-site-';
const CACHE = PREFIX + VERSION;
const COMPLETE = '__precache-complete__';
const PARALLEL = 2; // of the browser's 6 connections per host: the page needs the rest
const QUIET = 6000; // ms without a request from the site before a first visit's saving starts
const ROOT = new URL('./', self.location.href);
const broadcast = new BroadcastChannel('/sw-api.v1');
const HASHES = new Map(PRECACHE.map(([path, sha256]) => [new URL(path, ROOT).href, sha256]));

function hexToBase64(hex) {
  let binary = '';
  for (let i = 0; i < hex.length; i += 2) {
    binary += String.fromCharCode(parseInt(hex.slice(i, i + 2), 16));
  }
  return btoa(binary);
}

async function tell(message) {
  const clients = await self.clients.matchAll({ includeUncontrolled: true, type: 'window' });
  for (const client of clients) client.postMessage({ ...message, version: VERSION });
}

async function copyOrDownload(cache, older, path, sha256) {
  const url = new URL(path, ROOT).href;
  const have = await cache.match(url);
  if (have && have.headers.get('x-precache-sha256') === sha256) return;
  for (const old of older) {
    const hit = await old.match(url);
    if (hit && hit.headers.get('x-precache-sha256') === sha256) {
      await cache.put(url, hit);
      return;
    }
  }
  // no-cache: revalidate whatever the HTTP cache holds (a 304 costs no body); integrity: the
  // bytes must be this build's, or the install fails and the old version stays.
  const response = await fetch(url, {
    cache: 'no-cache',
    credentials: 'same-origin',
    integrity: 'sha256-' + hexToBase64(sha256),
  });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  const headers = new Headers({ 'x-precache-sha256': sha256 });
  for (const name of ['content-type', 'etag', 'last-modified']) {
    const value = response.headers.get(name);
    if (value) headers.set(name, value);
  }
  await cache.put(url, new Response(await response.blob(), { status: 200, headers }));
}

let filling = null;
let lastRequest = Date.now(); // of the site's pages and kernels (a restarted worker: quiet)

function fill() {
  filling = filling || fillOnce().finally(() => { filling = null; });
  return filling;
}

async function fillOnce() {
  const cache = await caches.open(CACHE);
  if (await cache.match(new URL(COMPLETE, ROOT).href)) {
    await tell({ type: 'precache-complete', done: PRECACHE.length, total: PRECACHE.length });
    return;
  }
  const older = [];
  for (const name of await caches.keys()) {
    if (name.startsWith(PREFIX) && name !== CACHE) older.push(await caches.open(name));
  }
  const queue = PRECACHE.slice();
  let done = 0;
  async function worker() {
    while (queue.length) {
      const [path, sha256] = queue.shift();
      await copyOrDownload(cache, older, path, sha256);
      done += 1;
      if (done % 25 === 0) await tell({ type: 'precache-progress', done, total: PRECACHE.length });
    }
  }
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  await cache.put(new URL(COMPLETE, ROOT).href, new Response(VERSION));
  await tell({ type: 'precache-complete', done, total: PRECACHE.length });
}

// The page asks again after 'precache-waiting': a first visit saves the site after its notebook
// has run, not during (a saved site, or an update's fill already under way, answers at once).
async function fillWhenQuiet() {
  const cache = await caches.open(CACHE);
  const complete = await cache.match(new URL(COMPLETE, ROOT).href);
  if (!complete && !filling && Date.now() - lastRequest < QUIET) {
    await tell({ type: 'precache-waiting', quietFor: Date.now() - lastRequest });
    return;
  }
  await fill();
}

self.addEventListener('install', (event) => {
  if (self.registration.active) {
    event.waitUntil(fill()); // an update: complete beside the old version, then wait
  } else {
    self.skipWaiting(); // the first install: serve the page now, fill in the background
  }
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if ((name.startsWith(PREFIX) && name !== CACHE) || name === 'precache') {
        await caches.delete(name); // older versions, and JupyterLite's own optional cache
      }
    }
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  const type = event.data && event.data.type;
  if (type === 'SKIP_WAITING') {
    self.skipWaiting();
  } else if (type === 'precache') {
    event.waitUntil(fillWhenQuiet().catch((error) => {
      return tell({ type: 'precache-failed', error: String(error) });
    }));
  }
});

function conditional(request, response) {
  const etag = response.headers.get('etag');
  const ifNoneMatch = request.headers.get('if-none-match');
  if (ifNoneMatch && etag && ifNoneMatch.split(',').map((t) => t.trim()).includes(etag)) {
    return new Response(null, { status: 304, headers: { etag } });
  }
  const modified = response.headers.get('last-modified');
  const ifModifiedSince = request.headers.get('if-modified-since');
  if (!ifNoneMatch && ifModifiedSince && modified
      && Date.parse(modified) <= Date.parse(ifModifiedSince)) {
    return new Response(null, { status: 304, headers: { 'last-modified': modified } });
  }
  return response;
}

const NOT_SAVED = '<!DOCTYPE html><meta charset="utf-8"><title>Offline</title>'
  + '<h1>You are offline, and this site was not completely saved</h1>'
  + '<p>Connect to the network once and reload: the site saves itself in the background, '
  + 'and then works offline.</p>';

function toHex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');
}

// What the page fetches while the cache is still filling is kept too, if its bytes are this
// build's: the fill then skips it, and a first visit downloads each file once.
async function keep(key, response) {
  const sha256 = HASHES.get(key);
  if (!sha256 || response.status !== 200) return;
  const body = await response.arrayBuffer();
  if (toHex(await crypto.subtle.digest('SHA-256', body)) !== sha256) return;
  const headers = new Headers({ 'x-precache-sha256': sha256 });
  for (const name of ['content-type', 'etag', 'last-modified']) {
    const value = response.headers.get(name);
    if (value) headers.set(name, value);
  }
  const cache = await caches.open(CACHE);
  await cache.put(key, new Response(body, { status: 200, headers }));
}

async function fromSite(request, url, event) {
  const cache = await caches.open(CACHE);
  const complete = !!(await cache.match(new URL(COMPLETE, ROOT).href));
  const key = url.origin + url.pathname + (url.pathname.endsWith('/') ? 'index.html' : '');
  // A page is opened from the cache only once the whole site is in it: a half-saved site would
  // open and then wait forever for a kernel file it does not have.
  const hit = complete || request.mode !== 'navigate' ? await cache.match(key) : null;
  if (hit) return conditional(request, hit);
  try {
    const response = await fetch(request);
    if (!complete && request.method === 'GET') event.waitUntil(keep(key, response.clone()));
    return response;
  } catch (error) {
    if (request.mode === 'navigate') {
      const page = await cache.match(new URL(OFFLINE_PAGE, ROOT).href);
      return page || new Response(NOT_SAVED, { headers: { 'content-type': 'text/html' } });
    }
    return new Response(`offline, and ${url.pathname} is not in this site's offline copy`, {
      status: 404, headers: { 'content-type': 'text/plain' },
    });
  }
}

async function broadcastOne(request, url) {
  const message = await request.json();
  const promise = new Promise((resolve) => {
    const listener = (event) => {
      const data = event.data;
      if (data.browsingContextId !== message.browsingContextId) return;
      resolve(new Response(JSON.stringify(data.response)));
      broadcast.removeEventListener('message', listener);
    };
    broadcast.addEventListener('message', listener);
  });
  message.pathname = url.pathname;
  broadcast.postMessage(message);
  return await promise;
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return; // the site asks no other host
  if (url.pathname === '/api/service-worker-heartbeat') { // JupyterLite's periodic ping: not activity
    event.respondWith(new Response('ok'));
  } else if (url.pathname.includes('/api/drive') || url.pathname.includes('/api/stdin/')) {
    lastRequest = Date.now();
    event.respondWith(broadcastOne(request, url));
  } else if (request.method === 'GET' && url.href.startsWith(ROOT.href)) {
    lastRequest = Date.now();
    event.respondWith(fromSite(request, url, event));
  }
});
