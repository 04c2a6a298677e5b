// Serves the built dashboard (dist/web, made by `npm run build`) at `/`. The page routes with the
// URL's hash (#/events), so the hub serves only index.html and the hashed files under /assets/.
// Files are read when first asked for and kept; index.html is re-read until it exists, so a hub
// started before `vite build` picks the dashboard up without a restart.
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** The repository (or installed package) root: this file is src/hub/… or dist/hub/…. */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const DEFAULT_WEB_DIR = join(ROOT, 'dist', 'web');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>forewarn: dashboard not built</title>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>The dashboard is not built</h1>
<p>This hub serves the dashboard from <code>dist/web</code>, which does not exist yet. Build it with</p>
<pre>npm run build</pre>
<p>(or only the dashboard: <code>npx vite build</code>), then reload this page. The API works without it:
see <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</p>`;

export function uiRoutes(options: { webDir?: string } = {}) {
  const dir = options.webDir ?? DEFAULT_WEB_DIR;
  const cache = new Map<string, Buffer>();
  const load = async (path: string): Promise<Buffer | undefined> => {
    const hit = cache.get(path);
    if (hit) return hit;
    try {
      const body = await readFile(join(dir, path));
      cache.set(path, body);
      return body;
    } catch {
      return undefined;
    }
  };

  return async function routes(app: FastifyInstance): Promise<void> {
    const index = async (_req: unknown, reply: FastifyReply) => {
      const body = await load('index.html');
      void reply.headers(SECURITY_HEADERS).header('cache-control', 'no-cache');
      if (!body) return reply.code(503).type(TYPES['.html']!).send(NOT_BUILT);
      return reply.type(TYPES['.html']!).send(body);
    };
    app.get('/', { schema: { hide: true } }, index);
    app.get('/ui', { schema: { hide: true } }, index);
    app.get('/ui/', { schema: { hide: true } }, index);

    app.get<{ Params: { file: string } }>('/assets/:file', { schema: { hide: true } }, async (req, reply) => {
      const file = req.params.file;
      // Vite's output names only: no separators, no dot-dot, nothing outside assets/.
      if (!/^[\w-]+(?:\.[\w-]+)*\.[a-z0-9]+$/.test(file))
        return reply.code(404).send({ error: 'Not Found', message: 'no such asset' });
      const body = await load(join('assets', file));
      if (!body) return reply.code(404).send({ error: 'Not Found', message: 'no such asset' });
      return reply
        .headers(SECURITY_HEADERS)
        .header('cache-control', 'public, max-age=31536000, immutable') // names carry a content hash
        .type(TYPES[extname(file)] ?? 'application/octet-stream')
        .send(body);
    });
    app.get('/favicon.svg', { schema: { hide: true } }, async (_req, reply) => {
      const body = await load('favicon.svg');
      if (!body) return reply.code(404).send({ error: 'Not Found', message: 'no favicon' });
      return reply.type(TYPES['.svg']!).header('cache-control', 'public, max-age=86400').send(body);
    });
  };
}
