import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { GatewayError } from '../http/errors.ts'
import { parseWith } from '../http/body.ts'
import { apiKeyField, displayName } from './fields.ts'
import type { AccountRegistry, AccountView } from '../accounts/registry.ts'
import type { AccountPool } from '../accounts/pool.ts'

const addBody = z.object({
  name: displayName,
  api_key: apiKeyField,
  priority: z.number().int().min(-1000).max(1000).optional(),
})
const updateBody = z
  .object({
    name: displayName.optional(),
    priority: z.number().int().min(-1000).max(1000).optional(),
    is_active: z.boolean().optional(),
    api_key: apiKeyField.optional(),
  })
  .strict()

/** Upstream accounts: API keys added here are stored encrypted; keys from config are listed but read-only. */
export function accountAdminRoutes(app: FastifyInstance, deps: { registry: AccountRegistry; pool: AccountPool }): void {
  const { registry, pool } = deps
  const show = (a: AccountView) => ({ ...a, ...pool.health(a.id) })
  // Accounts can change on any replica: admin reads start from the stored list, not this replica's copy.
  const find = async (id: string) => {
    await registry.reload()
    const account = registry.get(id)
    if (!account) throw new GatewayError(404, 'account not found')
    return account
  }
  const stored = async (id: string) => {
    const account = await find(id)
    if (account.source === 'config') {
      throw new GatewayError(409, 'this account comes from claude.api_keys in the configuration; change it there')
    }
    return account
  }

  app.post('/api/account/apikey', async (req) => show(await registry.add(parseWith(addBody, req.body))))

  // A bare array, as the Go ccproxy (and its UI) had it.
  app.get('/api/account/list', async () => {
    await registry.reload()
    return registry.list().map(show)
  })

  app.get<{ Params: { id: string } }>('/api/account/:id', async (req) => show(await find(req.params.id)))

  app.put<{ Params: { id: string } }>('/api/account/:id', async (req) => {
    const patch = parseWith(updateBody, req.body)
    await stored(req.params.id)
    const account = await registry.update(req.params.id, patch)
    if (!account) throw new GatewayError(404, 'account not found')
    return { message: 'account updated', account: show(account) }
  })

  app.delete<{ Params: { id: string } }>('/api/account/:id', async (req) => {
    await stored(req.params.id)
    await registry.remove(req.params.id)
    return { message: 'account deleted', id: req.params.id }
  })
}
