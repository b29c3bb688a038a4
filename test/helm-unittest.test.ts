import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { goAvailable, ifGo, renderer, renderChart } from './support/helm-render.ts'
import { loadSuite, runJob, select, TESTS_DIR } from './support/helm-unittest.ts'

// The chart's behaviour cases (given values → expected fields), in helm-unittest's format under
// helm/ccproxy/tests/, run on the Go renderer; plus what that format cannot say (comparing two renders).

const suites = readdirSync(TESTS_DIR).filter((f) => f.endsWith('_test.yaml')).sort().map((f) => loadSuite(join(TESTS_DIR, f)))

describe.skipIf(!goAvailable)(`helm/ccproxy/tests${ifGo}`, () => {
  // the renderer is built on first use (a few seconds on a cold Go cache)
  beforeAll(() => void renderer())

  for (const suite of suites) {
    describe(suite.suite, () => {
      for (const job of suite.tests) it(job.it, () => runJob(suite, job), 30_000)
    })
  }
})

describe.skipIf(!goAvailable)(`chart behaviour across renders${ifGo}`, () => {
  const podAnnotations = (values: object) => renderChart({ values }).get('Deployment', 'ccproxy').spec.template.metadata.annotations as Record<string, string>

  it('rolls the pods when the config changes, and only then', () => {
    const base = podAnnotations({})
    expect(podAnnotations({})['checksum/config']).toBe(base['checksum/config'])
    expect(podAnnotations({ config: { claude: { key_strategy: 'random' } } })['checksum/config']).not.toBe(base['checksum/config'])
    expect(podAnnotations({ shutdown: { drainSeconds: 50 }, terminationGracePeriodSeconds: 80 })['checksum/config']).not.toBe(base['checksum/config'])
    // generated secrets are not hashed: a re-render (where lookup finds nothing) does not roll the pods
    expect(podAnnotations({})['checksum/secret']).toBe(base['checksum/secret'])
  })

  it('rolls the pods when a secret or its source changes', () => {
    const base = podAnnotations({})['checksum/secret']
    expect(podAnnotations({ claude: { apiKeys: ['sk-ant-new'] } })['checksum/secret']).not.toBe(base)
    expect(podAnnotations({ admin: { existingSecret: 'other' } })['checksum/secret']).not.toBe(base)
    expect(podAnnotations({ clickhouse: { password: 'rotated-password' } })['checksum/secret']).not.toBe(base)
  })

  it('keeps the selectors of Service, PDB and ServiceMonitor within the pod labels', () => {
    const r = renderChart({ values: { metrics: { serviceMonitor: { enabled: true } } }, apiVersions: ['monitoring.coreos.com/v1'] })
    const pod = r.get('Deployment', 'ccproxy').spec.template.metadata.labels
    const service = r.get('Service', 'ccproxy')
    for (const selector of [service.spec.selector, r.get('PodDisruptionBudget', 'ccproxy').spec.selector.matchLabels, r.get('Deployment', 'ccproxy').spec.selector.matchLabels]) {
      expect(pod).toMatchObject(selector)
    }
    const monitor = r.get('ServiceMonitor', 'ccproxy')
    const serviceLabels = service.metadata.labels ?? {}
    expect(serviceLabels).toMatchObject(monitor.spec.selector.matchLabels)
    expect(service.spec.ports.map((p: { name: string }) => p.name)).toContain(monitor.spec.endpoints[0].port)
    // the job label the alert rules and dashboards expect
    expect(serviceLabels[monitor.spec.jobLabel]).toBe('ccproxy')
  })

  it('the path syntax of the runner reaches filtered and quoted keys', () => {
    const object = { a: { 'b.c/d': 1 }, env: [{ name: 'X', value: '1' }, { name: 'Y', value: '2' }] }
    expect(select(object, 'a["b.c/d"]')).toEqual([1])
    expect(select(object, 'env[?(@.name == "Y")].value')).toEqual(['2'])
    expect(select(object, 'env[1].name')).toEqual(['Y'])
    expect(select(object, 'env[?(@.name == "Z")]')).toEqual([])
  })
})
