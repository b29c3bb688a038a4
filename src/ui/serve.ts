import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { extname, join, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { GatewayError } from '../http/errors.ts'
import { Compressed } from './compress.ts'

// The web app (web/dist, built by `npm run build:web`) served at /ui/ on the gateway's own port.

/** web/dist of the ccproxy package: two levels up from this file, whether it runs from src/ or a compiled dist/. */
export const PACKAGE_UI_DIR = fileURLToPath(new URL('../../web/dist', import.meta.url))

export const UI_PREFIX = '/ui/'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
}

/**
 * For the app's documents. Vite's build loads scripts from files only, so no inline script runs;
 * 'unsafe-inline' styles stay because the component library's scroll lock injects a <style> element and the
 * code highlighter writes style attributes. No framing (clickjacking), no plugins, no foreign connections.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

const IMMUTABLE = 'public, max-age=31536000, immutable'

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ccproxy: the web app is not built</title></head>
<body><h1>The web app is not built</h1>
<p>Build it with <code>npm run build:web</code> (run by <code>npm install</code>), then reload this page.</p>
</body></html>
`

/**
 * GET / → 302 /ui/; /ui → /ui/; /ui/<file> serves the file; /ui/assets/* (content-hashed names) are
 * cached for a year as immutable, everything else revalidates (no-cache) so a new build shows at once. A
 * path without a file (a deep link such as /ui/conversations/<id>) answers index.html and the app routes
 * it; a missing asset, or a missing file with an extension, is a 404 (never HTML where a script was asked for).
 */
export function uiRoutes(app: FastifyInstance, opts: { dir: string }): void {
  const root = resolve(opts.dir || PACKAGE_UI_DIR)
  const compressed = new Compressed()

  app.get('/', async (_req, reply) => reply.redirect(UI_PREFIX, 302))
  app.get('/ui', async (_req, reply) => reply.redirect(UI_PREFIX, 302))

  app.get('/ui/*', async (req, reply) => {
    const rel = relativePath(req.url)
    const index = join(root, 'index.html')
    const indexStat = await fileStat(index)
    if (!indexStat) {
      return reply.code(503).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').headers(DOCUMENT_HEADERS).send(NOT_BUILT)
    }
    if (rel !== '') {
      const file = join(root, rel)
      // relativePath refused every way out already; this is the last word on it.
      if (!file.startsWith(root + sep)) throw new GatewayError(400, 'bad path')
      const found = await fileStat(file)
      if (found) return sendFile(req, reply, compressed, file, found, rel.startsWith('assets/') ? IMMUTABLE : 'no-cache')
      const last = rel.split('/').pop() ?? ''
      if (rel.startsWith('assets/') || extname(last) !== '') throw new GatewayError(404, 'no such file in the web app')
    }
    return sendFile(req, reply, compressed, index, indexStat, 'no-cache')
  })
}

const DOCUMENT_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
}

/**
 * The file path under /ui/ of a request URL, percent-decoded, or a 400 when it could leave the app's
 * directory or name a hidden file: `..` and `.` segments (also when encoded), backslashes, NUL, empty
 * segments (`//etc/passwd`). A trailing slash is allowed (it is the same page).
 */
export function relativePath(url: string): string {
  const path = url.split('?')[0]!.slice(UI_PREFIX.length)
  let decoded: string
  try {
    decoded = decodeURIComponent(path)
  } catch {
    throw new GatewayError(400, 'bad path')
  }
  if (decoded.includes('\0') || decoded.includes('\\')) throw new GatewayError(400, 'bad path')
  const segments = decoded.split('/')
  if (segments.at(-1) === '') segments.pop()
  if (segments.some((s) => s === '' || s.startsWith('.'))) throw new GatewayError(400, 'bad path')
  return segments.join('/')
}

async function fileStat(path: string): Promise<{ size: number; mtimeMs: number } | undefined> {
  try {
    const s = await stat(path)
    return s.isFile() ? { size: s.size, mtimeMs: s.mtimeMs } : undefined
  } catch {
    return undefined
  }
}

async function sendFile(
  req: FastifyRequest,
  reply: FastifyReply,
  compressed: Compressed,
  file: string,
  found: { size: number; mtimeMs: number },
  cacheControl: string,
): Promise<FastifyReply> {
  const type = TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream'
  const etag = `W/"${found.size.toString(16)}-${Math.floor(found.mtimeMs).toString(16)}"`
  reply.header('content-type', type).header('cache-control', cacheControl).header('etag', etag).header('x-content-type-options', 'nosniff')
  if (type.startsWith('text/html')) reply.headers(DOCUMENT_HEADERS)
  if (Compressed.worthIt(type, found.size)) reply.header('vary', 'accept-encoding')
  if (req.headers['if-none-match'] === etag) return reply.code(304).send()
  const encoded = await compressed.get(file, found, type, req.headers['accept-encoding'])
  if (encoded) return reply.header('content-encoding', encoded.encoding).header('content-length', encoded.body.length).send(encoded.body)
  return reply.header('content-length', found.size).send(createReadStream(file))
}
