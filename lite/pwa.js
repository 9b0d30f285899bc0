/* Loaded first by every page of the site (lite/build.py adds it): the offline app's page side.
 *
 * - Registers the service worker under JupyterLite's own URL for it, as early as possible, and
 *   keeps JupyterLite from unregistering it (it unregisters every worker when it finds no
 *   "<worker URL>-version" key, e.g. on a second visit): the worker manages its own versions.
 * - Asks the worker to finish saving the site for offline use, and asks the browser to keep the
 *   site's storage (navigator.storage.persist()).
 * - When a rebuilt site has been saved beside the running one, says so, with a button that
 *   switches every open tab to it (each reloads: a page never runs files of two builds).
 * State for tests and curious users: window.mnistWidgetsSite.
 */
(function () {
  'use strict';
  const APP_VERSION = '@APP_VERSION@'; // JupyterLite's appVersion, the value it expects
  const state = (window.mnistWidgetsSite = { offline: 'unsupported', update: false, version: null });
  if (!('serviceWorker' in navigator)) return;
  const root = new URL('./', document.currentScript.src);
  const workerUrl = new URL('service-worker.js', root);
  workerUrl.searchParams.set('enableCache', 'false');
  try {
    localStorage.setItem(`${workerUrl.href}-version`, APP_VERSION);
  } catch (error) {
    console.warn('mnist-widgets: localStorage unavailable', error);
  }
  const sw = navigator.serviceWorker;
  const hadController = !!sw.controller;
  state.offline = 'saving';
  let reloading = false;

  sw.addEventListener('controllerchange', () => {
    if (hadController && !reloading) {
      reloading = true; // another version took over: reload rather than mix builds
      window.location.reload();
    }
    saveSoon();
  });
  sw.addEventListener('message', (event) => {
    const data = event.data || {};
    if (data.type === 'precache-waiting') {
      setTimeout(askToSave, 2000); // the site is still busy loading or running: ask again
    } else if (data.type === 'precache-complete') {
      state.offline = 'saved';
      state.version = data.version;
    } else if (data.type === 'precache-failed') {
      state.offline = 'failed';
      console.warn('mnist-widgets: could not save the site for offline use:', data.error);
      whenBody(() => {
        const bar = banner('mnist-widgets-not-saved');
        bar.textContent = 'This site is not completely saved for offline use yet, and the '
          + 'network is unreachable: parts of it may not load. Connect and reload to finish.';
      });
    }
  });

  function askToSave() {
    if (sw.controller) sw.controller.postMessage({ type: 'precache' });
  }

  // Saving is asked for after the page has loaded; the worker starts it once the site has been
  // quiet for a few seconds (the notebook has run), so it never competes with the first visit's
  // own downloads (what the page fetched is kept as it comes, and not fetched again).
  function saveSoon() {
    if (document.readyState === 'complete') setTimeout(askToSave, 2000);
    else window.addEventListener('load', () => setTimeout(askToSave, 2000), { once: true });
  }

  function whenBody(callback) {
    if (document.body) callback();
    else document.addEventListener('DOMContentLoaded', callback, { once: true });
  }

  function banner(id) {
    const bar = document.getElementById(id) || document.createElement('div');
    bar.id = id;
    bar.setAttribute('role', 'status');
    bar.style.cssText = 'position:fixed;bottom:12px;left:50%;transform:translateX(-50%);'
      + 'z-index:10000;background:#1e3a5f;color:#fff;padding:8px 14px;border-radius:6px;'
      + 'font:14px system-ui,sans-serif;box-shadow:0 2px 8px rgba(0,0,0,.3)';
    document.body.append(bar);
    return bar;
  }

  function announce(registration) {
    state.update = true;
    whenBody(() => {
      if (document.getElementById('mnist-widgets-update')) return;
      const bar = banner('mnist-widgets-update');
      bar.textContent = 'A new version of these tutorials is saved and ready. ';
      const button = document.createElement('button');
      button.textContent = 'Reload to use it';
      button.style.cssText = 'margin-left:8px;font:inherit;cursor:pointer';
      button.addEventListener('click', () => {
        if (registration.waiting) registration.waiting.postMessage({ type: 'SKIP_WAITING' });
        else window.location.reload();
      });
      const later = document.createElement('span');
      later.textContent = ' (or it starts when every tab of this site is closed)';
      bar.append(button, later);
      document.body.append(bar);
    });
  }

  function watch(registration) {
    if (registration.waiting && sw.controller) announce(registration);
    registration.addEventListener('updatefound', () => {
      const worker = registration.installing;
      if (!worker) return;
      worker.addEventListener('statechange', () => {
        if (worker.state === 'installed' && sw.controller) announce(registration);
      });
    });
  }

  sw.register(workerUrl.href)
    .then((registration) => {
      watch(registration);
      saveSoon();
      if (hadController) registration.update().catch(() => {}); // offline: nothing to check
    })
    .catch((error) => {
      state.offline = 'failed';
      console.warn('mnist-widgets: service worker registration failed:', error);
    });

  if (navigator.storage && navigator.storage.persist) {
    navigator.storage.persisted()
      .then((persisted) => persisted || navigator.storage.persist())
      .then((persisted) => { state.persisted = persisted; })
      .catch(() => {});
  }
})();
