/**
 * Content negotiation for compressed answers: the first of `offered` (in the server's order of preference) that
 * the client's Accept-Encoding allows. `q=0` refuses an encoding; `*` stands for any not named.
 */
export function negotiateEncoding<E extends string>(acceptEncoding: string | undefined, offered: readonly E[]): E | undefined {
  if (!acceptEncoding) return undefined
  const accepted = new Map<string, number>()
  for (const part of acceptEncoding.split(',')) {
    const [name = '', ...params] = part.trim().toLowerCase().split(';')
    const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)).find(Boolean)
    accepted.set(name.trim(), q ? Number(q[1]) : 1)
  }
  return offered.find((name) => (accepted.get(name) ?? accepted.get('*') ?? 0) > 0)
}
