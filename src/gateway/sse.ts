/** An incremental parser of server-sent events: feed it chunks as they arrive, get whole events back. */
export interface SseEvent {
  event: string
  data: string
}

export class SseParser {
  #buffer = ''
  #event = ''
  #data: string[] = []
  readonly #decoder = new TextDecoder()

  push(chunk: Uint8Array | string): SseEvent[] {
    this.#buffer += typeof chunk === 'string' ? chunk : this.#decoder.decode(chunk, { stream: true })
    const events: SseEvent[] = []
    let start = 0
    for (;;) {
      const nl = this.#buffer.indexOf('\n', start)
      if (nl === -1) break
      const line = this.#buffer.slice(start, this.#buffer[nl - 1] === '\r' ? nl - 1 : nl)
      start = nl + 1
      if (line === '') {
        if (this.#data.length > 0) events.push({ event: this.#event || 'message', data: this.#data.join('\n') })
        this.#event = ''
        this.#data = []
      } else if (!line.startsWith(':')) {
        const colon = line.indexOf(':')
        const field = colon === -1 ? line : line.slice(0, colon)
        const value = colon === -1 ? '' : line.slice(colon + (line[colon + 1] === ' ' ? 2 : 1))
        if (field === 'event') this.#event = value
        else if (field === 'data') this.#data.push(value)
      }
    }
    this.#buffer = this.#buffer.slice(start)
    return events
  }
}
