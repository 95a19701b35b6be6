// The demo page: `GET /` and its assets under `/demo/` (web/demo in the package), read once at start and
// served from memory. Only the named files are served; anything else under /demo/ is a 404.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type Router from '@koa/router';

export const DEMO_DIR = fileURLToPath(new URL('../../../web/demo/', import.meta.url));

const ASSETS: Record<string, string> = {
  'demo.js': 'text/javascript; charset=utf-8',
  'pcm-capture.js': 'text/javascript; charset=utf-8',
  'demo.css': 'text/css; charset=utf-8',
};

export function mountDemoRoutes(router: Router, dir = DEMO_DIR): void {
  const page = readFileSync(`${dir}index.html`);
  const assets = new Map(Object.entries(ASSETS).map(([name, type]) => [name, { type, body: readFileSync(`${dir}${name}`) }]));
  router.get('/', (ctx) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.set('cache-control', 'no-cache');
    ctx.body = page;
  });
  router.get('/demo/:file', async (ctx, next) => {
    const asset = assets.get(ctx.params.file ?? '');
    if (!asset) {
      await next();
      return;
    }
    ctx.type = asset.type;
    ctx.set('cache-control', 'no-cache');
    ctx.body = asset.body;
  });
}
