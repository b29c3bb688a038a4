/** One series' labels, name → value. */
export type Labels = Record<string, string>

/** The value an open label takes once its family is full. */
export const OVERFLOW = 'other'

/**
 * The label sets one counter or histogram holds, so that its cardinality stays bounded: the sets of an account
 * or token that is gone can be removed, and once `max` distinct sets exist a new one is folded — its open labels
 * (ids, models, error types: values that can grow) become `other` — into a set whose remaining values are
 * bounded by construction (endpoint, mode, status code, token type). Folded sets are not counted: they are few.
 */
export class LabelSets {
  readonly #sets = new Map<string, Labels>()

  constructor(
    private readonly family: { remove(labels: Labels): void },
    private readonly open: ReadonlySet<string>,
    private readonly max: number,
  ) {}

  get size(): number {
    return this.#sets.size
  }

  /** The labels to record under: these when known or when there is room, else their folded form. */
  admit(labels: Labels): Labels {
    const key = keyOf(labels)
    if (this.#sets.has(key)) return labels
    if (this.#sets.size < this.max) {
      this.#sets.set(key, labels)
      return labels
    }
    return Object.fromEntries(Object.entries(labels).map(([name, value]) => [name, this.open.has(name) ? OVERFLOW : value]))
  }

  /** Removes every set `gone` says is of something that no longer exists, from the family and from here. */
  removeWhere(gone: (labels: Labels) => boolean): void {
    for (const [key, labels] of this.#sets) {
      if (!gone(labels)) continue
      this.family.remove(labels)
      this.#sets.delete(key)
    }
  }
}

// Name order does not matter: the same set built with its labels in another order is the same set.
const keyOf = (labels: Labels) =>
  Object.keys(labels)
    .sort()
    .map((name) => `${name}=${JSON.stringify(labels[name])}`)
    .join(',')
