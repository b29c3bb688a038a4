import { createRequire } from 'node:module'
import type { K8sObject } from './helm-render.ts'

// Validates rendered objects with the schemas of kubernetes-models 4.5.1 (core and apps APIs),
// @kubernetes-models/prometheus-operator (ServiceMonitor, PrometheusRule) and @kubernetes-models/gateway-api
// (HTTPRoute). Those report wrong types, bad enums and missing fields, but ignore unknown ones, which the API
// server would drop or reject. So the object is validated through a Proxy that records every property the
// validator reads: a validator generated from an OpenAPI schema reads each property the schema defines, and
// enumerates the keys of free-form maps (labels, annotations, data). A key it never read is not in the schema.

const require = createRequire(import.meta.url)

type Validate = (data: unknown) => void

const gatewayApi = '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute'
// The gateway-api models are an older line whose model class validates a copy; its own validate() takes the object.
const gatewayValidate = createRequire(require.resolve(gatewayApi))('@kubernetes-models/validate') as { validate(id: string, data: unknown): void }

function validatorFor(apiVersion: string, kind: string): Validate {
  if (apiVersion === 'gateway.networking.k8s.io/v1' && kind === 'HTTPRoute') {
    const { HTTPRoute } = require(gatewayApi)
    try {
      new HTTPRoute({}).validate() // registers the schema
    } catch {}
    return (data) => gatewayValidate.validate('gateway.networking.k8s.io.v1.HTTPRoute', data)
  }
  const module =
    apiVersion === 'monitoring.coreos.com/v1'
      ? `@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/${kind}`
      : `kubernetes-models/${apiVersion}/${kind}`
  let model: { prototype: { validate(this: unknown): void } }
  try {
    model = require(module)[kind]
  } catch {
    throw new Error(`no schema for ${apiVersion} ${kind}`)
  }
  return (data) => model.prototype.validate.call(data)
}

interface Seen {
  value: object
  read: Set<string>
  enumerated: boolean
}

function tracked(value: unknown, path: string, seen: Map<string, Seen>): unknown {
  if (value === null || typeof value !== 'object') return value
  const record: Seen = { value, read: new Set(), enumerated: false }
  seen.set(path, record)
  const copy = Array.isArray(value)
    ? value.map((v, i) => tracked(v, `${path}[${i}]`, seen))
    : Object.fromEntries(Object.entries(value).map(([k, v]) => [k, tracked(v, path ? `${path}.${k}` : k, seen)]))
  return new Proxy(copy, {
    get(target, key, receiver) {
      if (typeof key === 'string') record.read.add(key)
      return Reflect.get(target, key, receiver)
    },
    has(target, key) {
      if (typeof key === 'string') record.read.add(key)
      return Reflect.has(target, key)
    },
    ownKeys(target) {
      record.enumerated = true
      return Reflect.ownKeys(target)
    },
  })
}

export interface Validation {
  /** schema violations, as the validator words them */
  errors: string[]
  /** paths of fields the schema does not define */
  unknown: string[]
}

export function validateObject(object: K8sObject): Validation {
  const validate = validatorFor(object.apiVersion, object.kind)
  const seen = new Map<string, Seen>()
  const errors: string[] = []
  try {
    validate(tracked(object, '', seen))
  } catch (err) {
    errors.push((err as Error).message)
  }
  const unknown: string[] = []
  for (const [path, { value, read, enumerated }] of seen) {
    if (Array.isArray(value) || enumerated) continue
    for (const key of Object.keys(value)) if (!read.has(key)) unknown.push(path ? `${path}.${key}` : key)
  }
  // inside an unknown field everything is unread: report only the field itself
  const outermost = unknown.filter((path) => !unknown.some((other) => other !== path && (path.startsWith(`${other}.`) || path.startsWith(`${other}[`))))
  return { errors, unknown: outermost }
}
