import { spawn, spawnSync } from 'node:child_process'
import { createServer } from 'node:http'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import { beforeAll, describe, expect, it } from 'vitest'
import { parse, stringify } from 'yaml'
import { configSchema, loadConfig } from '../src/config.ts'
import { isClusterName } from '../src/warehouse/cluster.ts'
import { chartCopies, strayCopies } from '../helm/tools/sync-chart-files.ts'
import { README, readmeWithTable, valueRows } from '../helm/tools/values-table.ts'
import { validateObject } from './support/helm-k8s.ts'
import { CHART, EXAMPLES, examplePath, goAvailable, ifGo, renderer, renderChart, renderNotes, ROOT, type K8sObject, type Rendered } from './support/helm-render.ts'

// The chart validated without a cluster or helm: rendered by the Go renderer (helm/tools/render) for the default
// values, each example and a values set that turns every template on, then checked against the Kubernetes
// schemas, values.schema.json, promtool, the dashboards and alert rules it must carry unchanged, the gateway's
// own config loader, and for secrets in plain text.

const hasPromtool = spawnSync('promtool', ['--version']).status === 0
const ifPromtool = hasPromtool ? '' : ' [SKIPPED: promtool not installed; apt-get install -y --no-install-recommends prometheus]'
const CRD_APIS = ['monitoring.coreos.com/v1', 'gateway.networking.k8s.io/v1']

/** every template on at once, the CRD-backed ones included */
const EVERYTHING = {
  ingress: { enabled: true, className: 'nginx', tls: [{ secretName: 'tls', hosts: ['ccproxy.local'] }] },
  httpRoute: { enabled: true, parentRefs: [{ name: 'public', namespace: 'gateway-system', sectionName: 'https' }], hostnames: ['ccproxy.example.com'] },
  autoscaling: { enabled: true, inFlight: { enabled: true } },
  clickhouse: { bundled: { enabled: true } },
  metrics: { bearerToken: 'scrape-token-0123456789', serviceMonitor: { enabled: true, additionalLabels: { release: 'kps' }, relabelings: [{ action: 'replace', targetLabel: 'team', replacement: 'llm' }] }, prometheusRule: { enabled: true } },
  grafana: { dashboards: { enabled: true }, datasources: { enabled: true } },
  claude: { apiKeys: ['sk-ant-api03-one'] },
  otel: { endpoint: 'http://otel-collector:4318', serviceName: 'ccproxy-test' },
  extraEnv: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=768' }],
  extraVolumes: [{ name: 'ca', configMap: { name: 'corporate-ca' } }],
  extraVolumeMounts: [{ name: 'ca', mountPath: '/etc/ssl/corporate', readOnly: true }],
  config: { claude: { key_strategy: 'least_loaded' }, retention: { move_after: '90d' } },
}

const CASES: Record<string, { valueFiles?: string[]; values?: object }> = {
  defaults: {},
  ...Object.fromEntries(EXAMPLES.map((name) => [`examples/${name}.yaml`, { valueFiles: [examplePath(name)] }])),
  everything: { values: EVERYTHING },
  'external cluster': { values: { clickhouse: { url: 'https://clickhouse.data.svc:8443', cluster: '{cluster}', existingSecret: 'ch', existingSecretKey: 'password' } } },
}

function mergeValues(base: any, over: any): any {
  if (typeof base !== 'object' || base === null || Array.isArray(base) || typeof over !== 'object' || over === null || Array.isArray(over)) return over
  const out = { ...base }
  for (const [k, v] of Object.entries(over)) out[k] = v === null ? undefined : mergeValues(base[k], v)
  return out
}
const defaults = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8'))
const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8'))
// strictRequired off: the schema requires fields of Kubernetes objects (topology spread, env entries) it leaves to Kubernetes to describe
const validateValues = new Ajv({ allErrors: true, strict: true, strictRequired: false }).compile(schema)
const schemaErrors = (values: object) => (validateValues(mergeValues(defaults, values)) ? [] : validateValues.errors!.map((e: { instancePath: string; message?: string; params: object }) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`))

const renders = new Map<string, Rendered>()
const rendered = (name: string) => {
  if (!renders.has(name)) renders.set(name, renderChart({ ...CASES[name], apiVersions: CRD_APIS }))
  return renders.get(name)!
}

const containersOf = (o: K8sObject): any[] => (o.spec?.template?.spec ? [...(o.spec.template.spec.initContainers ?? []), ...o.spec.template.spec.containers] : [])

describe.skipIf(!goAvailable)(`helm/ccproxy renders${ifGo}`, () => {
  // the renderer is built on first use (a few seconds on a cold Go cache)
  beforeAll(() => void renderer())

  for (const name of Object.keys(CASES)) {
    describe(name, () => {
      it('every document parses, and is a named object of a kind', () => {
        const r = rendered(name)
        expect(r.objects.length).toBeGreaterThan(5)
        for (const o of r.objects) {
          expect(o.apiVersion, JSON.stringify(o).slice(0, 200)).toMatch(/^[\w./-]+$/)
          expect(o.kind).toMatch(/^[A-Z]\w+$/)
          expect(o.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
          expect(o.metadata.name.length).toBeLessThanOrEqual(63)
        }
        const ids = r.objects.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`)
        expect(new Set(ids).size, 'duplicate objects').toBe(ids.length)
      })

      it('every object validates against its Kubernetes schema, with no unknown field', () => {
        for (const o of rendered(name).objects) {
          const { errors, unknown } = validateObject(o)
          expect({ object: `${o.kind}/${o.metadata.name}`, errors, unknown }).toEqual({ object: `${o.kind}/${o.metadata.name}`, errors: [], unknown: [] })
        }
      })

      it('the gateway and its migration Job accept the configuration they are given', () => {
        const r = rendered(name)
        const config = r.objects.find((o) => o.kind === 'ConfigMap' && o.data?.['config.yaml'])!
        const dir = mkdtempSync(join(tmpdir(), 'ccproxy-helm-config-'))
        try {
          writeFileSync(join(dir, 'config.yaml'), config.data['config.yaml'])
          for (const workload of r.objects.filter((o) => o.kind === 'Deployment' || (o.kind === 'Job' && o.metadata.name.endsWith('-migrate')))) {
            const env: NodeJS.ProcessEnv = {}
            for (const e of workload.spec.template.spec.containers[0].env) {
              // a secret's stand-in, long enough for the gateway's minimums
              env[e.name] = e.value ?? (e.valueFrom?.secretKeyRef ? 'x'.repeat(40) : undefined)
            }
            if (env.CCPROXY_CONFIG) env.CCPROXY_CONFIG = join(dir, 'config.yaml')
            const warnings: string[] = []
            const loaded = loadConfig({ env, file: env.CCPROXY_CONFIG ?? join(dir, 'absent.yaml'), warn: (m) => warnings.push(m) })
            expect(warnings, workload.kind).toEqual([])
            expect(loaded.clickhouse.url, workload.kind).toMatch(/^https?:\/\//)
            expect(loaded.clickhouse.cluster, workload.kind).toBe(name === 'external cluster' ? '{cluster}' : '')
            if (workload.kind === 'Deployment') {
              expect(loaded.server.port).toBe(8080)
              expect(loaded.data_dir).toBe('/data')
              expect(loaded.clickhouse.embedded.http_port).toBe(0)
              const grace = workload.spec.template.spec.terminationGracePeriodSeconds * 1000
              const preStop = workload.spec.template.spec.containers[0].lifecycle.preStop.sleep.seconds * 1000
              expect(preStop + loaded.server.shutdown_timeout + loaded.server.shutdown_grace).toBeLessThanOrEqual(grace)
            }
          }
        } finally {
          rmSync(dir, { recursive: true, force: true })
        }
      })
    })
  }

  it('the unknown-field check itself reports unknown fields and wrong types', () => {
    const deployment = structuredClone(rendered('defaults').get('Deployment', 'ccproxy'))
    deployment.spec.template.spec.containers[0].readinesProbe = { httpGet: { path: '/ready', port: 'http' } }
    deployment.spec.template.spec.containers[0].env[0].valueFrom = { secretKeyRef: { name: 'a', key: 'b', optinal: true } }
    deployment.spec.replicas = 'two'
    const { errors, unknown } = validateObject(deployment)
    expect(unknown.sort()).toEqual(['spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.optinal', 'spec.template.spec.containers[0].readinesProbe'])
    expect(errors.join()).toMatch(/replicas/)
    const route = structuredClone(rendered('everything').get('HTTPRoute', 'ccproxy'))
    route.spec.rules[0].timeout = { request: '1s' }
    expect(validateObject(route).unknown).toEqual(['spec.rules[0].timeout'])
    const monitor = structuredClone(rendered('everything').get('ServiceMonitor', 'ccproxy'))
    monitor.spec.endpoints[0].intervall = '1m'
    expect(validateObject(monitor).unknown).toEqual(['spec.endpoints[0].intervall'])
  })

  it('with every template on, every kind the chart can make is rendered and checked', () => {
    const kinds = new Set(rendered('everything').objects.map((o) => o.kind))
    expect([...kinds].sort()).toEqual(
      ['ConfigMap', 'Deployment', 'HTTPRoute', 'HorizontalPodAutoscaler', 'Ingress', 'Job', 'PodDisruptionBudget', 'PrometheusRule', 'Secret', 'Service', 'ServiceAccount', 'ServiceMonitor', 'StatefulSet'].sort(),
    )
  })

  it.skipIf(!hasPromtool)(`the PrometheusRule's rules pass promtool check rules${ifPromtool}`, () => {
    const rule = rendered('everything').get('PrometheusRule', 'ccproxy')
    const dir = mkdtempSync(join(tmpdir(), 'ccproxy-helm-rules-'))
    try {
      writeFileSync(join(dir, 'rules.yaml'), stringify(rule.spec))
      const check = spawnSync('promtool', ['check', 'rules', join(dir, 'rules.yaml')], { encoding: 'utf8' })
      expect(check.stdout + check.stderr).toMatch(/SUCCESS: \d+ rules found/)
      expect(check.status).toBe(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('the PrometheusRule carries dashboards/prometheus/ccproxy-rules.yaml unchanged', () => {
    const source = parse(readFileSync(join(ROOT, 'dashboards/prometheus/ccproxy-rules.yaml'), 'utf8'))
    expect(rendered('everything').get('PrometheusRule', 'ccproxy').spec).toEqual(source)
  })

  it('one ConfigMap per dashboard, each equal to its file in dashboards/json/', () => {
    const r = rendered('everything')
    const files = readdirSync(join(ROOT, 'dashboards/json')).filter((f) => f.endsWith('.json')).sort()
    const maps = r.objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.labels?.grafana_dashboard === '1')
    expect(maps.flatMap((m) => Object.keys(m.data)).sort()).toEqual(files)
    for (const map of maps) {
      expect(Object.keys(map.data)).toHaveLength(1)
      const [file, text] = Object.entries(map.data)[0] as [string, string]
      expect(text, file).toBe(readFileSync(join(ROOT, 'dashboards/json', file), 'utf8').replace(/\n$/, ''))
      expect(map.metadata.annotations?.grafana_folder).toBe('ccproxy')
    }
  })

  it('the data sources ConfigMap has the uids the dashboards and alerts use', () => {
    const map = rendered('everything').get('ConfigMap', 'ccproxy-datasources')
    const provisioned = parse(readFileSync(join(ROOT, 'dashboards/provisioning/datasources/ccproxy.yaml'), 'utf8'))
    const ours = parse(map.data['ccproxy-datasources.yaml'])
    expect(ours.datasources.map((d: any) => [d.uid, d.type])).toEqual(provisioned.datasources.map((d: any) => [d.uid, d.type]))
  })

  it('no secret appears in plain text: not in ConfigMaps, not in env values, nowhere in the manifests', () => {
    const secrets = {
      admin: { key: 'KNOWN-admin-key-5c1f0e' },
      jwt: { secret: 'KNOWN-jwt-secret-9a3b7d-0123456789abcdef' },
      claude: { apiKeys: ['sk-ant-KNOWN-upstream-one', 'sk-ant-KNOWN-upstream-two'] },
      clickhouse: { password: 'KNOWN-clickhouse-password' },
      metrics: { bearerToken: 'KNOWN-metrics-token' },
    }
    const plain = ['KNOWN-admin-key-5c1f0e', 'KNOWN-jwt-secret-9a3b7d-0123456789abcdef', 'sk-ant-KNOWN-upstream-one', 'sk-ant-KNOWN-upstream-two', 'KNOWN-clickhouse-password', 'KNOWN-metrics-token']
    for (const values of [mergeValues(EVERYTHING, { ...secrets, clickhouse: { ...secrets.clickhouse, bundled: { enabled: false } } }), mergeValues(EVERYTHING, secrets)]) {
      const r = renderChart({ values, apiVersions: CRD_APIS })
      for (const secret of plain) expect(r.text, secret).not.toContain(secret)
      for (const map of r.objects.filter((o) => o.kind === 'ConfigMap')) {
        for (const secret of plain) expect(JSON.stringify(map.data), `${map.metadata.name}: ${secret}`).not.toContain(Buffer.from(secret).toString('base64').slice(0, 12))
      }
      for (const workload of r.objects) {
        for (const c of containersOf(workload)) {
          for (const e of c.env ?? []) if (e.value !== undefined) for (const secret of plain) expect(e.value, `${workload.kind} ${e.name}`).not.toContain(secret)
        }
      }
      // ...and they are all there, in Secrets, for the pods to read
      const stored = r.objects.filter((o) => o.kind === 'Secret').flatMap((s) => Object.values(s.data as Record<string, string>).map((v) => Buffer.from(v, 'base64').toString()))
      for (const secret of plain) expect(stored.join('\n'), secret).toContain(secret)
    }
  })

  it("the migration Job's wait for the bundled ClickHouse polls /ping until it answers, then ends", async () => {
    const job = rendered('examples/bundled-clickhouse.yaml').get('Job', 'ccproxy-migrate')
    const wait = job.spec.template.spec.initContainers[0]
    expect(wait.command.slice(0, 2)).toEqual(['node', '-e'])
    let pings = 0
    const server = createServer((req, res) => {
      if (req.url === '/ping') pings++
      res.writeHead(req.url === '/ping' && pings >= 2 ? 200 : 503).end('Ok.\n')
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    try {
      const { port } = server.address() as { port: number }
      const child = spawn(process.execPath, ['-e', wait.command[2]], { env: { ...process.env, CLICKHOUSE_URL: `http://127.0.0.1:${port}` }, stdio: 'pipe' })
      const [code] = await once(child, 'exit')
      expect(code).toBe(0)
      expect(pings).toBe(2)
    } finally {
      server.close()
    }
  })

  it('NOTES.txt tells how to reach the gateway and read the admin key', () => {
    const notes = renderNotes({ namespace: 'llm' })
    expect(notes).toContain('kubectl -n llm port-forward svc/ccproxy 8080:8080')
    expect(notes).toContain("kubectl -n llm get secret ccproxy -o jsonpath='{.data.admin-key}' | base64 -d")
    expect(notes).toContain('/ui/')
    const production = renderNotes({ valueFiles: [examplePath('production')], namespace: 'llm' })
    expect(production).toContain('https://ccproxy.example.com/')
    expect(production).toContain("get secret ccproxy-secrets -o jsonpath='{.data.admin-key}'")
    // asked for monitoring objects on a cluster without the operator: said, not silently dropped
    expect(production).toMatch(/WARNING: metrics.serviceMonitor.enabled is set, but this cluster does not serve monitoring.coreos.com\/v1/)
    expect(renderNotes({ valueFiles: [examplePath('production')], apiVersions: ['monitoring.coreos.com/v1'] })).not.toContain('WARNING')
  })
})

describe('helm/ccproxy/values.schema.json', () => {
  it('accepts the default values and every example', () => {
    expect(schemaErrors({})).toEqual([])
    for (const name of EXAMPLES) expect(schemaErrors(parse(readFileSync(examplePath(name), 'utf8'))), name).toEqual([])
    expect(schemaErrors(EVERYTHING)).toEqual([])
  })

  it.each([
    ['a misspelt top-level key', { replicaCont: 3 }, 'must NOT have additional properties'],
    ['a misspelt nested key', { ingress: { nginx: { bufering: false } } }, 'must NOT have additional properties'],
    ['a number as text', { replicaCount: 'two' }, 'must be integer'],
    ['a list as text', { claude: { apiKeys: 'sk-ant-one' } }, 'must be array'],
    ['an upstream key with a comma (the env list separator)', { claude: { apiKeys: ['a,b'] } }, 'must match pattern'],
    ['a cluster name ClickHouse would not take', { clickhouse: { cluster: "prod'; DROP" } }, 'must match pattern'],
    ['a ClickHouse URL without a scheme', { clickhouse: { url: 'clickhouse:8123' } }, 'must match pattern'],
    ['an admin key under 16 characters', { admin: { key: 'short' } }, 'must match pattern'],
    ['an unknown pull policy', { image: { pullPolicy: 'Sometimes' } }, 'must be equal to one of the allowed values'],
    ['a gateway setting group that does not exist', { config: { sever: { port: 1 } } }, 'must NOT have additional properties'],
    ['a sample ratio above 1', { otel: { sampleRatio: 2 } }, 'must be <= 1'],
    ['labels that are not strings', { commonLabels: { team: 7 } }, 'must be string'],
  ])('rejects %s', (_what, values, message) => {
    expect(schemaErrors(values).join('\n')).toContain(message)
  })

  it("accepts exactly the cluster names the gateway accepts", () => {
    for (const name of ['', 'prod', 'prod_eu.2-a', '{cluster}', '_x', '1prod', '{1x}', '{cluster', 'prod eu', "prod'; DROP", 'a'.repeat(256)]) {
      expect(schemaErrors({ clickhouse: { cluster: name } }).length === 0, JSON.stringify(name)).toBe(isClusterName(name))
    }
  })

  it('describes every key of values.yaml, and allows no key it does not describe', () => {
    const walk = (node: any, path: string): string[] => {
      if (node.type !== 'object' || !node.properties) return []
      const own = node.additionalProperties === false ? [] : [`${path || '(root)'} allows unknown keys`]
      return [...own, ...Object.entries(node.properties).flatMap(([k, v]) => walk(v, path ? `${path}.${k}` : k))]
    }
    expect(walk(schema, '')).toEqual([])
    for (const { key } of valueRows()) {
      const node = key.split('.').reduce((s: any, k) => s?.properties?.[k], schema)
      expect(node, key).toBeDefined()
    }
  })

  it("config's groups are the gateway's config groups", () => {
    const groups = Object.keys((configSchema as any)._zod.def.shape).filter((k) => k !== 'data_dir')
    expect(Object.keys(schema.properties.config.properties).sort()).toEqual(groups.sort())
  })
})

describe('helm/ccproxy files', () => {
  it('files/ holds exact copies of dashboards/json/ and dashboards/prometheus/ccproxy-rules.yaml (npx tsx helm/tools/sync-chart-files.ts)', () => {
    for (const { source, copy } of chartCopies()) expect(readFileSync(copy, 'utf8'), copy).toBe(readFileSync(source, 'utf8'))
    expect(strayCopies()).toEqual([])
  })

  it("the README's values table is generated from values.yaml as it is now (npx tsx helm/tools/values-table.ts)", () => {
    const readme = readFileSync(README, 'utf8')
    expect(readme).toBe(readmeWithTable(readme))
    expect(valueRows().length).toBeGreaterThan(100)
  })
})
