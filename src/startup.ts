/**
 * Bringing the gateway's state up from ClickHouse: connect and migrate, read tokens and accounts, start the
 * exporter. Against a ClickHouse server that does not answer yet, the gateway keeps running (not ready) and
 * retries in the background with backoff, resuming at the step that failed; it says so in the log once per
 * change of what is wrong, not at every attempt. An error that needs an operator (a changed migration) is
 * never retried. Against the embedded engine (in the process) there is nothing to wait for: any error stops
 * start-up.
 */

export interface StartupStep {
  /** what the step does, for /ready and the log: "read the tokens" */
  name: string
  run(): Promise<unknown>
}

export type StartupState =
  | { phase: 'starting'; reason: string }
  | { phase: 'ready' }
  /** stopped retrying: an operator must act */
  | { phase: 'failed'; reason: string }

export interface StartupLog {
  info(msg: string): void
  warn(msg: string): void
  error(msg: string): void
}

export interface StartupOptions {
  /** retry in the background (a ClickHouse server); false: the first failure is start-up's */
  retry: boolean
  /** errors no retry can cure */
  fatal(err: unknown): boolean
  /** what /ready and refused requests may say of an error (they are public: no addresses, no messages) */
  describe(step: StartupStep, err: unknown): string
  log: StartupLog
  minDelayMs?: number
  maxDelayMs?: number
}

const MIN_DELAY_MS = 250
const MAX_DELAY_MS = 5_000

export class Startup {
  #state: StartupState = { phase: 'starting', reason: 'connecting to ClickHouse' }
  /** steps done; an attempt resumes at the first one not done */
  #done = 0
  #failures = 0
  /** the last problem logged, so each is logged once */
  #problem: string | undefined
  #timer: NodeJS.Timeout | undefined
  #attempt: Promise<void> | undefined
  #stopped = false

  constructor(
    private readonly steps: readonly StartupStep[],
    private readonly opts: StartupOptions,
  ) {}

  get state(): StartupState {
    return this.#state
  }

  /**
   * The first attempt. Without retry any error rejects; with retry only a fatal one does, and otherwise the
   * gateway stays not ready while later attempts run in the background.
   */
  async first(): Promise<void> {
    const err = await this.#run()
    if (err === undefined) return
    if (!this.opts.retry || this.opts.fatal(err)) throw err
  }

  /** No further attempt; resolves when the one under way (if any) is over. Never rejects. */
  stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    return this.#attempt ?? Promise.resolve()
  }

  /** Runs the steps not done yet; resolves to the error that stopped it, or undefined when all are done. */
  #run(): Promise<unknown> {
    const attempt = this.#steps()
    this.#attempt = attempt.then(() => {})
    return attempt
  }

  async #steps(): Promise<unknown> {
    for (; this.#done < this.steps.length; this.#done++) {
      if (this.#stopped) return undefined
      const step = this.steps[this.#done]!
      try {
        await step.run()
      } catch (err) {
        this.#failed(step, err)
        return err
      }
    }
    if (this.#problem !== undefined) this.opts.log.info('ClickHouse answers: the schema is migrated, tokens and accounts are read; ccproxy is ready')
    this.#state = { phase: 'ready' }
    return undefined
  }

  #failed(step: StartupStep, err: unknown): void {
    const message = `${step.name}: ${(err as Error)?.message ?? String(err)}`
    // start-up stops and the caller says why; or the gateway is shutting down
    if (!this.opts.retry || this.#stopped) return
    if (this.opts.fatal(err)) {
      this.#state = { phase: 'failed', reason: `stopped: ${step.name} needs an operator (see the log)` }
      this.opts.log.error(`ccproxy cannot start: ${message}`)
      return
    }
    this.#state = { phase: 'starting', reason: this.opts.describe(step, err) }
    if (message !== this.#problem) {
      this.opts.log.warn(`ccproxy is not ready, it retries in the background (/ready answers 503 until then): ${message}`)
      this.#problem = message
    }
    const delay = Math.min(this.opts.maxDelayMs ?? MAX_DELAY_MS, (this.opts.minDelayMs ?? MIN_DELAY_MS) * 2 ** this.#failures++)
    // The process lives for the HTTP server, not for this timer.
    this.#timer = setTimeout(() => void this.#run(), delay).unref()
  }
}
