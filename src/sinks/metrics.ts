import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { RequestRecord } from '../record/request-record.ts'
import type { BatchOutcome, ExporterStats } from './exporter.ts'
import { BUCKETS, LABEL, METRIC } from './metric-names.ts'
import { OPERATION, PROVIDER } from './genai-attributes.ts'
import { LabelSets, OVERFLOW, type Labels } from './label-sets.ts'

/**
 * The Prometheus sink: a projection of each RequestRecord onto counters and histograms (the GenAI semconv
 * instruments and ccproxy's own), plus gauges read at scrape time from the account pool and the exporter.
 * Everything here is synchronous and in memory; observe() costs a few map updates and never does I/O.
 *
 * Cardinality is bounded: the per-request families hold at most `maxLabelSets` label sets each (past that,
 * new sets are folded into `other`, see label-sets.ts), and at every scrape the sets of an account no longer
 * in the pool, or of a token that is revoked or expired, are removed before the exposition is written.
 */

export interface GatewayMetricsOptions {
  /** metrics.token_labels: add the token id as a label (cardinality grows with the number of tokens) */
  tokenLabels: boolean
  /** the upstream accounts and whether each is serving (read at every scrape) */
  accounts: () => Array<{ id: string; up: boolean }>
  /** the ClickHouse exporter's counters (read at every scrape) */
  exporter: () => ExporterStats
  /** whether a token can no longer be used (revoked or expired): its series are removed at the next scrape */
  tokenRetired?: (id: string) => boolean
  /** metrics.max_label_sets: distinct label sets per request family before new ones fold into `other` */
  maxLabelSets?: number
}

/** Labels whose values grow with accounts, tokens, models and upstream error types; folded when a family is full. */
const OPEN_LABELS: ReadonlySet<string> = new Set([LABEL.account, LABEL.token, LABEL.model, LABEL.requestModel, LABEL.responseModel, LABEL.errorType])
const DEFAULT_MAX_LABEL_SETS = 5000

export class GatewayMetrics {
  /** our families and the default process metrics, in one exposition */
  readonly registry = new Registry()
  readonly #tokenLabels: boolean
  readonly #operationDuration: Histogram
  readonly #tokenUsage: Histogram
  readonly #timeToFirstToken: Histogram
  readonly #requests: Counter
  readonly #tokens: Counter
  readonly #inFlight: Gauge
  readonly #batchDuration: Histogram
  /** the label sets of each per-request family, by family */
  readonly #sets = new Map<Counter | Histogram, LabelSets>()
  readonly #accounts: GatewayMetricsOptions['accounts']
  readonly #tokenRetired: (id: string) => boolean

  constructor(opts: GatewayMetricsOptions) {
    const registers = [this.registry]
    this.#tokenLabels = opts.tokenLabels
    this.#accounts = opts.accounts
    this.#tokenRetired = opts.tokenRetired ?? (() => false)
    const token = opts.tokenLabels ? [LABEL.token] : []
    const genai = [LABEL.operationName, LABEL.providerName, LABEL.requestModel, LABEL.responseModel]

    this.#operationDuration = new Histogram({
      name: METRIC.operationDuration,
      help: 'GenAI operation duration: from the request to the end of the response, as the gateway saw it',
      labelNames: [...genai, LABEL.errorType],
      buckets: [...BUCKETS.operationDuration],
      registers,
    })
    this.#tokenUsage = new Histogram({
      name: METRIC.tokenUsage,
      help: 'Tokens per GenAI operation; input includes cache reads and writes',
      labelNames: [...genai, LABEL.tokenType],
      buckets: [...BUCKETS.tokenUsage],
      registers,
    })
    this.#timeToFirstToken = new Histogram({
      name: METRIC.timeToFirstToken,
      help: 'Time to the first content sent to the client, streamed responses only',
      labelNames: genai,
      buckets: [...BUCKETS.timeToFirstToken],
      registers,
    })
    this.#requests = new Counter({
      name: METRIC.requests,
      help: 'Proxied requests, by endpoint, mode, requested model, status code and upstream account id',
      labelNames: [LABEL.endpoint, LABEL.mode, LABEL.model, LABEL.statusCode, LABEL.account, ...token],
      registers,
    })
    this.#tokens = new Counter({
      name: METRIC.tokens,
      help: 'Tokens by type; input is the uncached part, so the four types add up to all tokens',
      labelNames: [LABEL.type, LABEL.model, ...token],
      registers,
    })
    this.#inFlight = new Gauge({
      name: METRIC.requestsInFlight,
      help: 'Proxied requests whose response is not over yet',
      registers,
    })
    new Gauge({
      name: METRIC.accountUp,
      help: 'Upstream account health: 1 healthy, 0 resting or unhealthy',
      labelNames: [LABEL.account],
      registers,
      collect() {
        // Rebuilt at each scrape: a removed account disappears instead of staying at its last value.
        this.reset()
        for (const account of opts.accounts()) this.set({ [LABEL.account]: account.id }, account.up ? 1 : 0)
      },
    })
    new Gauge({
      name: METRIC.exporterQueueDepth,
      help: 'Records in memory waiting to be written to ClickHouse or spooled',
      registers,
      collect() {
        this.set(opts.exporter().queueDepth)
      },
    })
    new Counter({
      name: METRIC.exporterRows,
      help: 'request_logs rows by outcome since start: written, spooled to disk, replayed from the spool, dropped',
      labelNames: [LABEL.outcome],
      registers,
      collect() {
        // The exporter keeps the monotonic totals; the counter mirrors them.
        const stats = opts.exporter()
        this.reset()
        this.inc({ [LABEL.outcome]: 'written' }, stats.rowsWritten)
        this.inc({ [LABEL.outcome]: 'spooled' }, stats.rowsSpooled)
        this.inc({ [LABEL.outcome]: 'replayed' }, stats.rowsReplayed)
        this.inc({ [LABEL.outcome]: 'dropped' }, stats.rowsDropped)
      },
    })
    this.#batchDuration = new Histogram({
      name: METRIC.exporterBatchDuration,
      help: 'Time to deliver one exporter batch, by outcome',
      labelNames: [LABEL.outcome],
      buckets: [...BUCKETS.exporterBatch],
      registers,
    })
    new Gauge({
      name: METRIC.exporterSpoolBytes,
      help: 'Bytes in the on-disk spool, waiting for ClickHouse',
      registers,
      collect() {
        this.set(opts.exporter().spoolBytes)
      },
    })
    collectDefaultMetrics({ register: this.registry })
    for (const family of [this.#operationDuration, this.#tokenUsage, this.#timeToFirstToken, this.#requests, this.#tokens]) {
      this.#sets.set(family, new LabelSets(family, OPEN_LABELS, opts.maxLabelSets ?? DEFAULT_MAX_LABEL_SETS))
    }
  }

  /** The labels to record under in one family (folded when the family is full). */
  #admit(family: Counter | Histogram, labels: Labels): Labels {
    return this.#sets.get(family)!.admit(labels)
  }

  /** Removes the label sets of accounts no longer in the pool and of revoked or expired tokens, from every family. */
  #forgetGone(): void {
    const accounts = new Set(this.#accounts().map((a) => a.id))
    const retired = new Map<string, boolean>()
    const tokenGone = (id: string) => {
      if (!retired.has(id)) retired.set(id, this.#tokenRetired(id))
      return retired.get(id)!
    }
    // '' is a request that had no account or no token; `other` is already folded.
    const gone = (value: string | undefined, isGone: (id: string) => boolean) => value !== undefined && value !== '' && value !== OVERFLOW && isGone(value)
    for (const sets of this.#sets.values()) {
      sets.removeWhere((labels) => gone(labels[LABEL.account], (id) => !accounts.has(id)) || gone(labels[LABEL.token], tokenGone))
    }
  }

  /** Call when a proxied request starts; call the returned function (once or more) when it is over. */
  started(): () => void {
    this.#inFlight.inc()
    let over = false
    return () => {
      if (over) return
      over = true
      this.#inFlight.dec()
    }
  }

  /** One finished request. */
  observe(r: RequestRecord): void {
    // Already bounded by the record (record/model-name.ts): known or upstream-accepted models, else `other`.
    const model = r.model
    const who: Labels = this.#tokenLabels ? { [LABEL.token]: r.token_id } : {}
    this.#requests.inc(
      this.#admit(this.#requests, {
        [LABEL.endpoint]: r.endpoint,
        [LABEL.mode]: r.mode,
        [LABEL.model]: model,
        [LABEL.statusCode]: String(r.status_code),
        [LABEL.account]: r.account_id,
        ...who,
      }),
    )
    const uncached = r.prompt_tokens - r.cache_read_tokens - r.cache_creation_tokens
    const parts = { input: uncached, output: r.completion_tokens, cache_read: r.cache_read_tokens, cache_creation: r.cache_creation_tokens }
    for (const [type, n] of Object.entries(parts)) {
      if (n > 0) this.#tokens.inc(this.#admit(this.#tokens, { [LABEL.type]: type, [LABEL.model]: model, ...who }), n)
    }

    // Listing models is not a GenAI operation: no gen_ai_* observations (the span still has one).
    if (r.endpoint === 'models') return
    const operation = OPERATION[r.endpoint]
    const genai = {
      [LABEL.operationName]: operation,
      [LABEL.providerName]: PROVIDER,
      [LABEL.requestModel]: model,
      [LABEL.responseModel]: r.response_model,
    }
    this.#operationDuration.observe(this.#admit(this.#operationDuration, { ...genai, [LABEL.errorType]: r.error_type }), r.duration_ms / 1000)
    // Only when upstream reported usage: a refused request used no tokens, and a zero would skew the histogram.
    if (r.total_tokens > 0) {
      this.#tokenUsage.observe(this.#admit(this.#tokenUsage, { ...genai, [LABEL.tokenType]: 'input' }), r.prompt_tokens)
      this.#tokenUsage.observe(this.#admit(this.#tokenUsage, { ...genai, [LABEL.tokenType]: 'output' }), r.completion_tokens)
    }
    if (r.stream && r.ttft_ms !== null) this.#timeToFirstToken.observe(this.#admit(this.#timeToFirstToken, genai), r.ttft_ms / 1000)
  }

  /** The exporter's onBatch hook. */
  batch(b: { rows: number; ms: number; outcome: BatchOutcome }): void {
    this.#batchDuration.observe({ [LABEL.outcome]: b.outcome }, b.ms / 1000)
  }

  /** The exposition text and its content type. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    this.#forgetGone()
    return { contentType: this.registry.contentType, body: await this.registry.metrics() }
  }
}
