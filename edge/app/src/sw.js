/**
 * Service worker of the citizen page (scope /app/). Keeps the page and its
 * on-demand scripts in Cache Storage so that the page opens with no network
 * and shows the last good code, which the page itself keeps in localStorage
 * (it must read it synchronously before first paint; see app.js).
 *
 * build.mjs replaces __VERSION__ (hash of everything precached) and
 * __PRECACHE__ (the page and the content-hashed files). Any change to the page
 * changes this file's bytes, which is how the browser notices an update
 * (Service Workers spec, "Update": byte-for-byte comparison of the script).
 *
 * Strategy: cache first for everything under /app/ (content-hashed files
 * never change; the page is replaced as a whole when a new worker installs).
 * Network first would make every warm start wait one round trip (0.4 s on a
 * slow 3G link) — over the 300 ms warm budget of issue 6. /v1/* is not
 * touched: the page decides what a failed call means.
 */
/* global __VERSION__, __PRECACHE__ */
const CACHE = 'hc-app-' + __VERSION__;
const PRECACHE = __PRECACHE__;

self.addEventListener('install', (e) => {
  e.waitUntil(
    caches
      .open(CACHE)
      .then((c) => c.addAll(PRECACHE.map((u) => new Request(u, { cache: 'no-cache' }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (e) => {
  e.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('hc-app-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (e) => {
  const req = e.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== location.origin || !url.pathname.startsWith('/app/') || url.pathname === '/app/sw.js') return;
  e.respondWith(fromCache(req, url.pathname === '/app/index.html' ? '/app/' : url.pathname));
});

async function fromCache(req, key) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(key);
  if (hit) return hit;
  const res = await fetch(req);
  if (res.ok && PRECACHE.includes(key)) cache.put(key, res.clone());
  return res;
}
