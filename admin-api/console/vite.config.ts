import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

/**
 * The back-office web console (issue 5 item 8), built to dist/console/ and
 * served by admin-api at /console/ (admin-api/console-static.ts).
 *
 * No @vitejs/plugin-react: it only adds Fast Refresh for the dev server.
 * Vite 8 compiles TSX with its built-in oxc transform; the automatic JSX
 * runtime is set here so files need no `import React`.
 *
 * Output: index.html (served no-cache) and assets/<name>-<hash>.js|css
 * (served immutable for a year: the hash changes with the content), each with
 * .br and .gz siblings when smaller, compressed once here and never per
 * request — the same scheme as the citizen page (edge/app/build.mjs).
 */
const here = fileURLToPath(new URL('.', import.meta.url));
const outDir = fileURLToPath(new URL('../../dist/console/', import.meta.url));

function precompress(): Plugin {
  // `vite build --outDir <dir>` (the browser test builds into a temp dir) overrides the default.
  let dir = outDir;
  return {
    name: 'hc-precompress',
    apply: 'build',
    configResolved(config) {
      dir = resolve(config.root, config.build.outDir);
    },
    closeBundle() {
      if (!existsSync(dir)) return; // the build failed: rolldown reports why
      const walk = (dir: string): string[] =>
        readdirSync(dir).flatMap((n) => {
          const p = join(dir, n);
          return statSync(p).isDirectory() ? walk(p) : [p];
        });
      for (const file of walk(dir)) {
        if (!/\.(js|css|html|svg|json)$/.test(file)) continue;
        const raw = readFileSync(file);
        const br = brotliCompressSync(raw, {
          params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length },
        });
        const gz = gzipSync(raw, { level: 9 });
        if (br.length < raw.length) writeFileSync(file + '.br', br);
        if (gz.length < raw.length) writeFileSync(file + '.gz', gz);
      }
    },
  };
}

export default defineConfig({
  root: here,
  base: '/console/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'react' } },
  plugins: [precompress()],
  build: {
    outDir,
    emptyOutDir: true,
    // Officials' desktops run Chromium-based browsers (360, QQ, Edge) a few
    // versions behind: the targets of Vite's former 'modules' default.
    target: ['chrome87', 'edge88', 'firefox78', 'safari14'],
    // Every browser above supports <link rel=modulepreload>; the polyfill is dead weight.
    modulePreload: { polyfill: false },
    // No data: URLs in CSS or JS: the console's CSP (console-static.ts) stays simple.
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 600,
  },
});
