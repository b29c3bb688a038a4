// A small OTLP/HTTP receiver for the tracing tests (no collector package exists on these machines): it takes
// `POST /v1/traces` in the JSON encoding that @opentelemetry/exporter-trace-otlp-http sends and keeps every
// span, flattened to plain values so tests can assert on them directly.

import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ReceivedSpan {
  traceId: string
  spanId: string
  /** '' for a root span */
  parentSpanId: string
  name: string
  /** OTLP SpanKind: 1 internal, 2 server, 3 client */
  kind: number
  startMs: number
  endMs: number
  attributes: Record<string, unknown>
  /** OTLP status code: 0 unset, 1 ok, 2 error */
  status: { code: number; message: string }
  scope: { name: string; version: string; schemaUrl: string }
  resource: Record<string, unknown>
}

export interface OtlpReceiver {
  /** the OTLP base endpoint, as otel.endpoint takes it */
  url: string
  spans: ReceivedSpan[]
  /** POSTs received, accepted or not */
  posts: number
  /** answer every POST with this status instead of accepting it (a broken collector) */
  failWith: number | null
  close(): Promise<void>
}

type AnyValue = {
  stringValue?: string
  boolValue?: boolean
  intValue?: number | string
  doubleValue?: number
  arrayValue?: { values?: AnyValue[] }
  kvlistValue?: { values?: KeyValue[] }
}
type KeyValue = { key: string; value: AnyValue }

function plain(v: AnyValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue
  if (v.boolValue !== undefined) return v.boolValue
  if (v.intValue !== undefined) return Number(v.intValue)
  if (v.doubleValue !== undefined) return v.doubleValue
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(plain)
  if (v.kvlistValue) return attributes(v.kvlistValue.values)
  return undefined
}

const attributes = (kvs: KeyValue[] | undefined): Record<string, unknown> => Object.fromEntries((kvs ?? []).map((kv) => [kv.key, plain(kv.value)]))

const millis = (nanos: string | number | undefined): number => Number(BigInt(nanos ?? 0) / 1_000_000n)

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const receiver: OtlpReceiver = {
    url: '',
    spans: [],
    posts: 0,
    failWith: null,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') return void res.writeHead(404).end()
      receiver.posts++
      if (receiver.failWith !== null) return void res.writeHead(receiver.failWith).end()
      if (!String(req.headers['content-type']).startsWith('application/json')) return void res.writeHead(415).end()
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      for (const rs of body.resourceSpans ?? []) {
        const resource = attributes(rs.resource?.attributes)
        for (const ss of rs.scopeSpans ?? []) {
          const scope = { name: ss.scope?.name ?? '', version: ss.scope?.version ?? '', schemaUrl: ss.schemaUrl ?? '' }
          for (const s of ss.spans ?? []) {
            receiver.spans.push({
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId ?? '',
              name: s.name,
              kind: s.kind,
              startMs: millis(s.startTimeUnixNano),
              endMs: millis(s.endTimeUnixNano),
              attributes: attributes(s.attributes),
              status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' },
              scope,
              resource,
            })
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return receiver
}
