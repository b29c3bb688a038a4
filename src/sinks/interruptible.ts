import type { ClickHouseClient } from '@clickhouse/client'

/**
 * The exporter's view of the client: once `signal` fires, inserts under way give up and new ones fail at
 * once. The exporter takes a failed insert for "ClickHouse is away" and spools the batch, so a second
 * signal turns everything still queued into spool files within milliseconds instead of waiting on
 * ClickHouse. Everything but insert is the client itself.
 */
export function interruptible(client: ClickHouseClient, signal: AbortSignal): ClickHouseClient {
  const interrupted = new Promise<never>((_, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason), { once: true })
  })
  interrupted.catch(() => {}) // nobody may be inserting when it fires
  const insert: ClickHouseClient['insert'] = (params) => {
    if (signal.aborted) return Promise.reject(signal.reason)
    const abort_signal = params.abort_signal ? AbortSignal.any([params.abort_signal, signal]) : signal
    // The race too: the embedded engine may not stop a statement that has begun.
    return Promise.race([client.insert({ ...params, abort_signal }), interrupted])
  }
  return new Proxy(client, {
    get(target, key) {
      if (key === 'insert') return insert
      const value: unknown = Reflect.get(target, key, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}
