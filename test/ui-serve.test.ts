import { mkdirSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PACKAGE_UI_DIR, relativePath } from '../src/ui/serve.ts'
import { negotiateEncoding } from '../src/http/encoding.ts'
import { startTestGateway, type TestGateway } from './support/gateway.ts'

// The web app served from the gateway's own port, on a tiny fake build (never the real one): a temp dir
// holding index.html and hashed assets, given as ui.dir, with a secret file next to it that no URL may reach.

let t: TestGateway
let base: string
let dist: string
const INDEX = '<!doctype html><html><head><script type="module" src="/ui/assets/index-4f2a9c1d.js"></script></head><body><div id="root"></div></body></html>\n'
const SCRIPT = `export const app = ${JSON.stringify('x'.repeat(5000))};\n`.repeat(4)
const STYLE = 'body { color: black }\n'
const SECRET = 'top-secret-file-content-7781'

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'ccproxy-ui-'))
  dist = join(base, 'dist')
  mkdirSync(join(dist, 'assets'), { recursive: true })
  writeFileSync(join(dist, 'index.html'), INDEX)
  writeFileSync(join(dist, 'assets', 'index-4f2a9c1d.js'), SCRIPT)
  writeFileSync(join(dist, 'assets', 'index-77aa01bc.css'), STYLE)
  writeFileSync(join(dist, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>')
  writeFileSync(join(dist, '.env'), SECRET)
  writeFileSync(join(base, 'secret.txt'), SECRET)
  t = await startTestGateway({ ui: { dir: dist } })
})
afterAll(() => t?.close())

/** A request sent byte for byte as written (fetch would normalize `..` and `//` away). */
function raw(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const { hostname, port } = new URL(t.url)
  return new Promise((done, fail) => {
    const req = http.request({ host: hostname, port, path, method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => done({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    req.on('error', fail)
    req.end()
  })
}

describe('serving the app at /ui/', () => {
  it('redirects / and /ui to /ui/', async () => {
    for (const path of ['/', '/ui']) {
      const res = await fetch(t.url + path, { redirect: 'manual' })
      expect(res.status, path).toBe(302)
      expect(res.headers.get('location'), path).toBe('/ui/')
    }
  })

  it('answers index.html with no-cache and the document security headers', async () => {
    for (const path of ['/ui/', '/ui/index.html']) {
      const res = await fetch(t.url + path)
      expect(res.status, path).toBe(200)
      expect(await res.text()).toBe(INDEX)
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
      expect(res.headers.get('cache-control')).toBe('no-cache')
      const csp = res.headers.get('content-security-policy')!
      expect(csp).toContain("script-src 'self'")
      expect(csp).not.toMatch(/script-src[^;]*unsafe/)
      expect(csp).toContain("img-src 'self' data: blob:")
      expect(csp).toContain("connect-src 'self'")
      expect(csp).toContain("frame-ancestors 'none'")
      expect(csp).toContain("object-src 'none'")
      expect(res.headers.get('x-content-type-options')).toBe('nosniff')
      expect(res.headers.get('referrer-policy')).toBe('same-origin')
      expect(res.headers.get('x-frame-options')).toBe('DENY')
    }
  })

  it('serves hashed assets as immutable for a year, with their content types', async () => {
    const js = await fetch(`${t.url}/ui/assets/index-4f2a9c1d.js`, { headers: { 'accept-encoding': 'identity' } })
    expect(js.status).toBe(200)
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    expect(js.headers.get('x-content-type-options')).toBe('nosniff')
    expect(js.headers.get('content-security-policy')).toBeNull()
    expect(await js.text()).toBe(SCRIPT)
    const css = await fetch(`${t.url}/ui/assets/index-77aa01bc.css`)
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8')
    expect(await css.text()).toBe(STYLE)
    const svg = await fetch(`${t.url}/ui/favicon.svg`)
    expect(svg.headers.get('content-type')).toBe('image/svg+xml')
    expect(svg.headers.get('cache-control')).toBe('no-cache')
  })

  it('compresses text files as the client accepts: brotli, else gzip, else as they are', async () => {
    const br = await raw('/ui/assets/index-4f2a9c1d.js', { 'accept-encoding': 'gzip, deflate, br' })
    expect(br.headers['content-encoding']).toBe('br')
    expect(br.headers.vary).toBe('accept-encoding')
    expect(brotliDecompressSync(br.body).toString()).toBe(SCRIPT)
    expect(br.body.length).toBeLessThan(SCRIPT.length / 10)
    const gz = await raw('/ui/assets/index-4f2a9c1d.js', { 'accept-encoding': 'gzip' })
    expect(gz.headers['content-encoding']).toBe('gzip')
    expect(gunzipSync(gz.body).toString()).toBe(SCRIPT)
    const plain = await raw('/ui/assets/index-4f2a9c1d.js')
    expect(plain.headers['content-encoding']).toBeUndefined()
    expect(plain.body.toString()).toBe(SCRIPT)
    // too small to be worth it
    const css = await raw('/ui/assets/index-77aa01bc.css', { 'accept-encoding': 'br' })
    expect(css.headers['content-encoding']).toBeUndefined()
  })

  it('answers a deep link with index.html, so the app routes it', async () => {
    for (const path of ['/ui/conversations/7f1c2a52-8f0e-4a8e-9d51-2b1f6f4f3a10', '/ui/requests/7f1c2a52-8f0e-4a8e-9d51-2b1f6f4f3a10?peek=1', '/ui/tokens/', '/ui/usage?range=7d']) {
      const res = await fetch(t.url + path)
      expect(res.status, path).toBe(200)
      expect(await res.text(), path).toBe(INDEX)
      expect(res.headers.get('cache-control'), path).toBe('no-cache')
      expect(res.headers.get('content-security-policy'), path).toContain("frame-ancestors 'none'")
    }
  })

  it('a missing asset or file is a 404, never HTML where a script was asked for', async () => {
    for (const path of ['/ui/assets/index-00000000.js', '/ui/assets/chunks/x', '/ui/robots.txt']) {
      const res = await fetch(t.url + path)
      expect(res.status, path).toBe(404)
      expect(res.headers.get('content-type'), path).toMatch(/application\/json/)
    }
  })

  it('revalidates with the ETag: 304 when unchanged', async () => {
    const first = await fetch(`${t.url}/ui/`)
    const etag = first.headers.get('etag')!
    expect(etag).toMatch(/^W\/"/)
    const again = await fetch(`${t.url}/ui/`, { headers: { 'if-none-match': etag } })
    expect(again.status).toBe(304)
    expect(await again.text()).toBe('')
  })

  it('HEAD answers the headers without the body', async () => {
    const res = await fetch(`${t.url}/ui/`, { method: 'HEAD' })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(await res.text()).toBe('')
  })

  it('refuses every way out of the directory, plain or encoded, and hidden files', async () => {
    for (const path of [
      '/ui/../secret.txt',
      '/ui/assets/../../secret.txt',
      '/ui/%2e%2e/secret.txt',
      '/ui/%2E%2E%2Fsecret.txt',
      '/ui/assets/..%2f..%2fsecret.txt',
      '/ui/..%5csecret.txt',
      `/ui/${encodeURIComponent(join(base, 'secret.txt'))}`,
      `/ui/${join(base, 'secret.txt')}`,
      '/ui//etc/passwd',
      '/ui/%2fetc%2fpasswd',
      '/ui/index.html%00.js',
      '/ui/.env',
      '/ui/%2eenv',
      '/ui/%e0%a4%a',
    ]) {
      const res = await raw(path)
      expect(res.status, path).toBe(400)
      expect(res.body.toString(), path).not.toContain(SECRET)
    }
  })

  it('answers 503 with the command to run while the app is not built, and serves it once built', async () => {
    renameSync(join(dist, 'index.html'), join(dist, 'index.html.away'))
    try {
      for (const path of ['/ui/', '/ui/conversations/abc']) {
        const res = await fetch(t.url + path)
        expect(res.status, path).toBe(503)
        expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
        expect(res.headers.get('cache-control')).toBe('no-store')
        expect(await res.text()).toContain('npm run build:web')
      }
    } finally {
      renameSync(join(dist, 'index.html.away'), join(dist, 'index.html'))
    }
    expect((await fetch(`${t.url}/ui/`)).status).toBe(200)
  })

  it('leaves the admin API and unknown paths to their own answers', async () => {
    expect((await fetch(`${t.url}/api/token/list`)).status).toBe(401)
    const unknown = await fetch(`${t.url}/nothing-here`)
    expect(unknown.status).toBe(404)
    expect(await unknown.json()).toEqual({ error: 'no route for GET /nothing-here' })
  })
})

describe('parts', () => {
  it('finds web/dist of the package by default', () => {
    expect(PACKAGE_UI_DIR).toBe(resolve(import.meta.dirname, '..', 'web', 'dist'))
  })

  it('relativePath decodes and keeps only plain segments', () => {
    expect(relativePath('/ui/')).toBe('')
    expect(relativePath('/ui/assets/a-1.js?v=2')).toBe('assets/a-1.js')
    expect(relativePath('/ui/conversations/%E4%B8%AD/')).toBe('conversations/中')
    for (const bad of ['/ui/..', '/ui/a/./b', '/ui/a//b', '/ui/%2e%2e', '/ui/a%5cb', '/ui/%00', '/ui/%zz']) {
      expect(() => relativePath(bad), bad).toThrow('bad path')
    }
  })

  it('the app\'s files: br over gzip, q=0 honoured (the negotiation the embedded HTTP interface shares)', () => {
    const preferred = (accept: string | undefined) => negotiateEncoding(accept, ['br', 'gzip'])
    expect(preferred(undefined)).toBeUndefined()
    expect(preferred('gzip, deflate, br')).toBe('br')
    expect(preferred('gzip, br;q=0')).toBe('gzip')
    expect(preferred('identity')).toBeUndefined()
    expect(preferred('*')).toBe('br')
    expect(preferred('*, br;q=0, gzip;q=0')).toBeUndefined()
  })
})
