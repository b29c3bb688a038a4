/**
 * Which `anthropic-beta` names a client may send upstream (claude.beta_policy). A beta outside the allow-list
 * is dropped, not refused: Claude Code sends several betas on every request and adds new ones with its
 * releases, so a refusal would lock it out at each upgrade, while a dropped beta only switches that feature
 * off (a request whose body needs it gets upstream's own 400 naming the field). The names dropped are told
 * to the client in a response header.
 */
export type BetaPolicy = { policy: 'forward' } | { policy: 'allow_list'; allowed: ReadonlySet<string> }

/** Response header that lists the betas the gateway removed from the request. */
export const DROPPED_BETAS_HEADER = 'x-ccproxy-dropped-betas'

/** The request headers with `anthropic-beta` filtered by the policy, and the names that were removed. */
export function applyBetaPolicy(headers: Record<string, string>, betas: BetaPolicy): { headers: Record<string, string>; dropped: string[] } {
  const sent = headers['anthropic-beta']
  if (betas.policy === 'forward' || sent === undefined) return { headers, dropped: [] }
  const names = sent.split(',').map((name) => name.trim()).filter(Boolean)
  const kept = names.filter((name) => betas.allowed.has(name))
  const { 'anthropic-beta': _, ...rest } = headers
  return {
    headers: kept.length > 0 ? { ...rest, 'anthropic-beta': kept.join(',') } : rest,
    dropped: names.filter((name) => !betas.allowed.has(name)),
  }
}
