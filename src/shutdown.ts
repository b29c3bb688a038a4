/**
 * A shutdown is a list of steps run in order against one deadline. A step that fails is noted and the next
 * one runs; a step still running at the deadline is left behind (and the steps after it skipped), so
 * nothing a step waits on — a ClickHouse that does not answer, a client that keeps its connection — holds
 * the process past the deadline.
 */

export interface ShutdownStep {
  /** for the log: what did not finish */
  name: string
  run(): Promise<unknown>
}

export type StepOutcome =
  | { name: string; outcome: 'done'; ms: number }
  | { name: string; outcome: 'failed'; ms: number; error: unknown }
  | { name: string; outcome: 'overran' | 'skipped'; ms: number }

/** `deadline` is a time on `now`'s clock (milliseconds). */
export async function runSteps(steps: readonly ShutdownStep[], deadline: number, now: () => number = () => performance.now()): Promise<StepOutcome[]> {
  const outcomes: StepOutcome[] = []
  let overran = false
  for (const step of steps) {
    const started = now()
    const left = deadline - started
    // (a timer may fire a fraction of a millisecond before the clock reaches the deadline)
    if (overran || left <= 0) {
      outcomes.push({ name: step.name, outcome: 'skipped', ms: 0 })
      continue
    }
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'overran'>((resolve) => {
      timer = setTimeout(() => resolve('overran'), left)
    })
    try {
      const outcome = await Promise.race([Promise.resolve().then(() => step.run()).then(() => 'done' as const), late])
      overran = outcome === 'overran'
      outcomes.push({ name: step.name, outcome, ms: now() - started })
    } catch (error) {
      outcomes.push({ name: step.name, outcome: 'failed', ms: now() - started, error })
    } finally {
      clearTimeout(timer)
    }
  }
  return outcomes
}
