import { Readable } from 'node:stream'
import type { FastifyReply } from 'fastify'

// Streamed downloads for the export routes: rows go out as they come from ClickHouse, never all held in
// memory, as CSV, one JSON array, or JSON lines.

export type DownloadFormat = 'csv' | 'json' | 'jsonl'

const CONTENT_TYPES: Record<DownloadFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  json: 'application/json; charset=utf-8',
  jsonl: 'application/x-ndjson; charset=utf-8',
}

const CHUNK_CHARS = 64 * 1024

/** request_logs_20250131_120000 (UTC), as the Go ccproxy named its downloads. */
export function downloadName(base: string, format: DownloadFormat, at = new Date()): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15)
  return `${base}_${stamp}.${format}`
}

/** A CSV field: quoted when needed; text that a spreadsheet would run as a formula gets a leading '. */
export function csvField(v: unknown): string {
  if (v === null || v === undefined) return ''
  let s = String(v)
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

/**
 * Streams rows as a download. The first row is fetched before any byte is sent, so a failing query is still
 * an ordinary error response; after that, rows go out in ~64 KiB chunks as the database produces them, with
 * the socket's backpressure reaching back to the query. When the client goes away, fastify destroys the
 * body stream, which returns the row generator, which destroys the ClickHouse result stream and aborts it.
 */
export async function sendDownload<T>(
  reply: FastifyReply,
  rows: AsyncGenerator<T, void, undefined>,
  opts: { format: DownloadFormat; basename: string; csv?: { header: readonly string[]; values: (row: T) => unknown[] } },
): Promise<FastifyReply> {
  const { format } = opts
  let first: IteratorResult<T, void>
  try {
    first = await rows.next()
  } catch (err) {
    await rows.return(undefined)
    throw err
  }
  const line = (row: T, index: number): string => {
    switch (format) {
      case 'csv':
        return opts.csv!.values(row).map(csvField).join(',') + '\n'
      case 'json':
        return (index === 0 ? '\n' : ',\n') + JSON.stringify(row)
      case 'jsonl':
        return JSON.stringify(row) + '\n'
    }
  }
  const head = format === 'csv' ? opts.csv!.header.join(',') + '\n' : format === 'json' ? '[' : ''
  async function* chunks(): AsyncGenerator<string, void, undefined> {
    let buffer = head
    let index = 0
    let empty = true
    try {
      if (!first.done) {
        empty = false
        buffer += line(first.value, index++)
        for await (const row of rows) {
          buffer += line(row, index++)
          if (buffer.length >= CHUNK_CHARS) {
            yield buffer
            buffer = ''
          }
        }
      }
      if (format === 'json') buffer += empty ? ']\n' : '\n]\n'
      if (buffer) yield buffer
    } finally {
      await rows.return(undefined)
    }
  }
  if (format === 'csv' && !opts.csv) throw new Error('csv download without columns')
  reply
    .header('content-type', CONTENT_TYPES[format])
    .header('content-disposition', `attachment; filename=${downloadName(opts.basename, format)}`)
    .header('cache-control', 'no-store')
  return reply.send(Readable.from(chunks(), { objectMode: false }))
}
