import { describe, expect, it } from 'vitest'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, cpSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { loadConfig } from '../src/config.ts'
import { gatewayJob } from '../dashboards/src/metrics.ts'
import { DATASOURCE_ENV, GRAFANA_DASHBOARDS_PATH } from '../dashboards/src/provisioning.ts'

// deploy/ cannot run here (no Docker engine), so its files are checked for what would break `docker compose
// up`: unpinned images, mounts of files that do not exist, a Prometheus config promtool rejects, gateway
// settings that are not config keys, provisioning mounted where Grafana does not look.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const DEPLOY = join(ROOT, 'deploy')
const hasPromtool = spawnSync('promtool', ['--version']).status === 0
const ifPromtool = hasPromtool ? '' : ' [SKIPPED: promtool not installed; apt-get install -y --no-install-recommends prometheus]'

interface Service {
  image?: string
  build?: { context: string; dockerfile: string }
  environment?: Record<string, string>
  volumes?: string[]
  depends_on?: Record<string, unknown> | string[]
  command?: string[]
}
const compose = parse(readFileSync(join(DEPLOY, 'compose.yaml'), 'utf8')) as { services: Record<string, Service>; volumes: Record<string, unknown> }
const services = compose.services

/** Compose's ${VAR:-default} / ${VAR-default} / ${VAR}, resolved with an empty environment. */
const interpolate = (value: string) => value.replace(/\$\{\w+(?::?-([^}]*))?\}/g, (_, fallback?: string) => fallback ?? '')
const environment = (name: string) => Object.fromEntries(Object.entries(services[name]!.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]))

/** host path (resolved) → container path, for the bind mounts of a service; named volumes are skipped */
function bindMounts(name: string): Array<{ host: string; container: string }> {
  return (services[name]!.volumes ?? [])
    .map((v) => v.split(':'))
    .filter(([source]) => source!.startsWith('.') || source!.startsWith('/'))
    .map(([source, target]) => ({ host: resolve(DEPLOY, source!), container: target! }))
}

const pinned = (image: string) => /^[\w./-]+:v?\d+(\.\d+)+[\w.-]*(@sha256:[0-9a-f]{64})?$/.test(image)
const dockerfileOf = (s: Service) => join(resolve(DEPLOY, s.build!.context), s.build!.dockerfile)
const serviceUrl = (url: string) => new URL(url)

describe('deploy/compose.yaml', () => {
  it('runs the gateway with ClickHouse, Prometheus, Grafana and an OpenTelemetry collector', () => {
    expect(Object.keys(services).sort()).toEqual(['clickhouse', 'gateway', 'grafana', 'otel-collector', 'prometheus'])
    expect(services.clickhouse!.image).toMatch(/^clickhouse\/clickhouse-server:/)
    expect(services.grafana!.image).toMatch(/^grafana\/grafana:/)
    expect(services.prometheus!.image).toMatch(/^prom\/prometheus:/)
    expect(services['otel-collector']!.image).toMatch(/^otel\/opentelemetry-collector-contrib:/)
  })

  it('every image is pinned to a version; the gateway is built from deploy/Dockerfile on a pinned base', () => {
    for (const [name, s] of Object.entries(services)) {
      if (s.build) {
        expect(dockerfileOf(s)).toBe(join(DEPLOY, 'Dockerfile'))
        const bases = [...readFileSync(dockerfileOf(s), 'utf8').matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]!)
        expect(bases.length).toBeGreaterThan(0)
        for (const base of bases) expect(pinned(base), `${name}: FROM ${base}`).toBe(true)
      } else {
        expect(pinned(s.image ?? ''), `${name}: ${s.image}`).toBe(true)
      }
    }
  })

  it('every mounted host path exists in the repository', () => {
    for (const name of Object.keys(services)) {
      for (const { host } of bindMounts(name)) {
        expect(existsSync(host), `${name}: ${host}`).toBe(true)
        expect(host.startsWith(ROOT), `${name}: ${host} is outside the repository`).toBe(true)
      }
    }
  })

  it('services depend only on services, and named volumes are declared', () => {
    for (const [name, s] of Object.entries(services)) {
      const deps = Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {})
      for (const d of deps) expect(services[d], `${name} depends on ${d}`).toBeDefined()
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0]!
        if (!source.startsWith('.') && !source.startsWith('/')) expect(compose.volumes, `${name}: volume ${source}`).toHaveProperty(source)
      }
    }
  })
})

describe('the gateway service', () => {
  const env = { ...dockerEnv(), ...environment('gateway') }

  function dockerEnv(): Record<string, string> {
    const text = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8')
    return Object.fromEntries([...text.matchAll(/^ENV\s+(\w+)=(\S+)/gm)].map((m) => [m[1]!, m[2]!]))
  }

  it('every CCPROXY_* setting (compose and Dockerfile) names a real config key', () => {
    const defaults = loadConfig({ file: join(ROOT, 'config.yaml'), env: {} })
    const keys = new Set<string>()
    const walk = (node: unknown, path: string[]) => {
      if (node !== null && typeof node === 'object' && !Array.isArray(node)) for (const [k, v] of Object.entries(node)) walk(v, [...path, k])
      else keys.add(`CCPROXY_${path.join('_').toUpperCase()}`)
    }
    walk(defaults, [])
    const names = Object.keys(env).filter((k) => k.startsWith('CCPROXY_'))
    expect(names.length).toBeGreaterThan(0)
    for (const name of names) expect(keys.has(name), `${name} is not a config key`).toBe(true)
  })

  it('loads as a valid configuration pointing at the compose services', () => {
    const config = loadConfig({ file: join(ROOT, 'config.yaml'), env })
    expect(config.clickhouse.url).toBe('http://clickhouse:8123')
    const clickhouse = serviceUrl(config.clickhouse.url)
    expect(services[clickhouse.hostname]).toBeDefined()
    expect(config.clickhouse.username).toBe(environment('clickhouse').CLICKHOUSE_USER)
    expect(config.clickhouse.password).toBe(environment('clickhouse').CLICKHOUSE_PASSWORD)
    expect(config.clickhouse.database).toBe(environment('clickhouse').CLICKHOUSE_DB)
    expect(config.data_dir).toBe('/data')
  })

  it('sends traces to the collector over OTLP/HTTP', () => {
    const endpoint = serviceUrl(env.OTEL_EXPORTER_OTLP_ENDPOINT!)
    expect(endpoint.hostname).toBe('otel-collector')
    expect(endpoint.port).toBe('4318')
  })

  it('runs read-only, writing only to its data volume and /tmp', () => {
    const gateway = services.gateway! as Service & { read_only?: boolean; tmpfs?: string[] }
    expect(gateway.read_only).toBe(true)
    expect(gateway.tmpfs).toEqual(['/tmp'])
    expect(gateway.volumes?.map((v) => v.split(':')[1])).toEqual([loadConfig({ file: join(ROOT, 'config.yaml'), env }).data_dir])
  })
})

describe('the image (deploy/Dockerfile)', () => {
  const text = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ')
  // the stages, each with its instructions (continuation lines joined)
  const stages = text
    .split(/^(?=FROM )/m)
    .filter((s) => s.startsWith('FROM '))
    .map((s) => ({ name: / AS (\w+)/i.exec(s.split('\n')[0]!)?.[1], lines: s.split('\n').filter((l) => /^[A-Z]+ /.test(l)) }))
  const runtime = stages.at(-1)!
  const build = stages.find((s) => s.name === 'build')!
  const runs = (stage: typeof runtime) => stage.lines.filter((l) => l.startsWith('RUN ')).join('\n')
  const instructions = (stage: typeof runtime, keyword: string) => stage.lines.filter((l) => l.startsWith(`${keyword} `)).map((l) => l.slice(keyword.length + 1).trim())
  // (JSON with whole-line comments, as tsc reads it)
  const tsconfigBuild = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8').replace(/^\s*\/\/.*$/gm, '')) as { compilerOptions: { rootDir: string; outDir: string } }
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }

  it('builds in a stage of its own: every dependency, then npm run build, which compiles src/ into dist/', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', undefined])
    expect(runs(build)).toMatch(/^RUN npm install\b.*&& npm run build\b/m)
    expect(pkg.scripts.build).toBe('tsc -p tsconfig.build.json')
    expect(tsconfigBuild.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' })
  })

  it('runs the compiled gateway with node as PID 1: no npm, no tsx, no shell', () => {
    expect(instructions(runtime, 'CMD')).toEqual(['["node", "dist/main.js", "start"]'])
    expect(instructions(runtime, 'ENTRYPOINT')).toEqual([])
    expect(existsSync(join(ROOT, tsconfigBuild.compilerOptions.rootDir, 'main.ts'))).toBe(true)
    expect(runtime.lines.join('\n')).not.toMatch(/\btsx\b/)
  })

  it('installs production dependencies only, without running scripts, and without the embedded engine by default', () => {
    const install = runs(runtime)
    expect(install).toMatch(/npm install --omit=dev \$\{optional\} --ignore-scripts\b/)
    expect(install).toMatch(/if \[ "\$\{EMBEDDED_ENGINE\}" = true \]; then optional=""; else optional="--omit=optional"; fi/)
    expect(instructions(runtime, 'ARG')).toContain('EMBEDDED_ENGINE=false')
  })

  it('runs as a numeric non-root user that owns only the data volume', () => {
    const [user] = instructions(runtime, 'USER')
    expect(user).toMatch(/^[1-9]\d*(:\d+)?$/)
    expect(instructions(runtime, 'VOLUME')).toEqual(['["/data"]'])
    expect(instructions(runtime, 'ENV')).toContain('CCPROXY_DATA_DIR=/data')
    expect(runs(runtime)).toContain(`chown ${user} /data`)
    // USER comes after every RUN: what was installed belongs to root and is read-only to the gateway
    expect(runtime.lines.findIndex((l) => l.startsWith('USER '))).toBeGreaterThan(runtime.lines.findLastIndex((l) => l.startsWith('RUN ')))
  })

  it('carries OCI labels from build args', () => {
    const args = new Set(instructions(runtime, 'ARG').map((a) => a.split('=')[0]))
    const labels = Object.fromEntries([...instructions(runtime, 'LABEL').join(' ').matchAll(/(org\.opencontainers\.image\.\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]))
    for (const [label, arg] of [['version', 'VERSION'], ['revision', 'REVISION'], ['created', 'CREATED'], ['source', 'SOURCE']]) {
      expect(labels[`org.opencontainers.image.${label}`]).toBe(`\${${arg}}`)
      expect(args.has(arg!), `ARG ${arg}`).toBe(true)
    }
  })

  it('copies what exists: sources from the context, dist/ and web/dist from the build stage', () => {
    for (const copy of [...instructions(build, 'COPY'), ...instructions(runtime, 'COPY')]) {
      const [, from, sources] = /^(?:--from=(\w+) )?(.+?) \S+$/.exec(copy)!
      for (const source of sources!.split(/\s+/)) {
        if (from) {
          expect(from).toBe('build')
          expect([`/app/${tsconfigBuild.compilerOptions.outDir}`, '/app/web/dist']).toContain(source)
        } else {
          expect(existsSync(join(ROOT, source)), `COPY ${source}`).toBe(true)
        }
      }
    }
    expect(runs(build)).toContain('mkdir -p web/dist') // so the copy works before the web app exists
  })

  it('keeps dependencies, local builds and secrets out of the build context', () => {
    const ignored = readFileSync(join(DEPLOY, 'Dockerfile.dockerignore'), 'utf8').split('\n').map((l) => l.trim())
    for (const path of ['**/node_modules', 'dist', 'web/dist', 'data', '.env', '.git']) expect(ignored).toContain(path)
  })
})

describe('Prometheus (deploy/prometheus.yml)', () => {
  const config = parse(readFileSync(join(DEPLOY, 'prometheus.yml'), 'utf8')) as {
    rule_files: string[]
    scrape_configs: Array<{ job_name: string; metrics_path: string; static_configs: Array<{ targets: string[] }> }>
  }

  it('scrapes the gateway under the job name the alert rules select, at its metrics path', () => {
    const gateway = loadConfig({ file: join(ROOT, 'config.yaml'), env: {} })
    const job = config.scrape_configs.find((s) => s.job_name === gatewayJob)!
    expect(job.metrics_path).toBe(gateway.metrics.path)
    expect(job.static_configs.flatMap((s) => s.targets)).toEqual([`gateway:${gateway.server.port}`])
  })

  it(`passes promtool check config with the files mounted where the container has them${ifPromtool}`, { skip: !hasPromtool }, () => {
    // rebuild the container's /etc/prometheus from the compose mounts, then check it as Prometheus would
    const root = mkdtempSync(join(tmpdir(), 'ccproxy-prometheus-'))
    for (const { host, container } of bindMounts('prometheus')) {
      const target = join(root, container)
      mkdirSync(dirname(target), { recursive: true })
      if (statSync(host).isDirectory()) cpSync(host, target, { recursive: true })
      else copyFileSync(host, target)
    }
    const result = spawnSync('promtool', ['check', 'config', join(root, 'etc/prometheus/prometheus.yml')], { encoding: 'utf8' })
    const output = result.stdout + result.stderr
    expect(result.status, output).toBe(0)
    expect(output).toMatch(/SUCCESS: \d+ rules found/)
  })
})

describe('Grafana service', () => {
  const mounts = bindMounts('grafana')
  const mountedAt = (container: string) => mounts.find((m) => m.container === container)?.host

  it('installs the ClickHouse plugin at a pinned version', () => {
    const env = environment('grafana')
    const plugins = env.GF_PLUGINS_PREINSTALL_SYNC ?? env.GF_PLUGINS_PREINSTALL ?? env.GF_INSTALL_PLUGINS ?? ''
    expect(plugins).toMatch(/(^|,)grafana-clickhouse-datasource@\d+\.\d+\.\d+($|,)/)
  })

  it('provisions data sources, dashboards and alert rules from dashboards/', () => {
    for (const kind of ['datasources', 'dashboards', 'alerting']) expect(mountedAt(`/etc/grafana/provisioning/${kind}`)).toBe(join(ROOT, 'dashboards/provisioning', kind))
    expect(mountedAt(GRAFANA_DASHBOARDS_PATH)).toBe(join(ROOT, 'dashboards/json'))
  })

  it('sets the environment the data source file reads, pointing at the compose services', () => {
    const env = environment('grafana')
    for (const name of DATASOURCE_ENV) expect(env[name], name).toBeTruthy()
    expect(services[env.CLICKHOUSE_HOST!]).toBeDefined()
    expect(services[serviceUrl(env.PROMETHEUS_URL!).hostname]).toBeDefined()
    expect([env.CLICKHOUSE_USER, env.CLICKHOUSE_PASSWORD, env.CLICKHOUSE_DATABASE]).toEqual([
      environment('clickhouse').CLICKHOUSE_USER,
      environment('clickhouse').CLICKHOUSE_PASSWORD,
      environment('clickhouse').CLICKHOUSE_DB,
    ])
    const provisioned = readFileSync(join(ROOT, 'dashboards/provisioning/datasources/ccproxy.yaml'), 'utf8')
    expect([...provisioned.matchAll(/\$(\w+)/g)].map((m) => m[1]).sort()).toEqual([...DATASOURCE_ENV].sort())
  })
})

describe('OpenTelemetry collector (deploy/otel-collector.yaml)', () => {
  const config = parse(readFileSync(join(DEPLOY, 'otel-collector.yaml'), 'utf8')) as {
    receivers: { otlp: { protocols: { http: { endpoint: string } } } }
    processors: Record<string, unknown>
    exporters: Record<string, unknown>
    service: { pipelines: Record<string, { receivers: string[]; processors?: string[]; exporters: string[] }> }
  }

  it('is the file the collector container reads', () => {
    const mount = bindMounts('otel-collector').find((m) => m.host === join(DEPLOY, 'otel-collector.yaml'))!
    expect(services['otel-collector']!.command).toEqual([`--config=${mount.container}`])
  })

  it('receives OTLP/HTTP on 4318 and exports traces to debug (and ClickHouse)', () => {
    expect(config.receivers.otlp.protocols.http.endpoint).toBe('0.0.0.0:4318')
    const traces = config.service.pipelines.traces!
    expect(traces.receivers).toContain('otlp')
    expect(traces.exporters).toContain('debug')
    for (const [, p] of Object.entries(config.service.pipelines)) {
      for (const r of p.receivers) expect(config.receivers).toHaveProperty(r)
      for (const x of p.processors ?? []) expect(config.processors).toHaveProperty(x)
      for (const e of p.exporters) expect(config.exporters).toHaveProperty(e)
    }
  })
})
