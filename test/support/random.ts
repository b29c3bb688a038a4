/** A small seeded random source, so seeded datasets are the same on every run. */
export function seeded(seed: number) {
  const rand = () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    rand,
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!,
    int: (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1)),
  }
}
