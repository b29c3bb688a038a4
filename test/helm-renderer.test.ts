import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { goAvailable, ifGo, renderChart, renderer, renderFailure, renderNotes } from './support/helm-render.ts'

// helm/tools/render stands in for `helm template` in the chart tests: these check it keeps Helm's semantics
// where the chart relies on them, on a small chart of its own.

const chart = mkdtempSync(join(tmpdir(), 'ccproxy-helm-fixture-'))
const files: Record<string, string> = {
  'Chart.yaml': 'apiVersion: v2\nname: fixture\nversion: 1.2.3\nappVersion: "4.5"\n',
  'values.yaml': 'name: base\nnested: {keep: 1, drop: 2}\nlist: [a, b]\nbig: 10737418240\nmsg: ""\ntext: "{{ .Values.name }}-tpl"\n',
  'files/a.json': '{"x": "{{ not templated }}"}\n',
  'files/b.json': '{"y": 2}\n',
  'templates/_helpers.tpl': '{{- define "fixture.name" -}}{{ .Chart.Name }}-{{ .Values.name }}{{- end }}\n',
  'templates/cm.yaml': [
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata:',
    '  name: {{ include "fixture.name" . }}',
    '  labels: {chart: "{{ .Chart.Name }}-{{ .Chart.Version }}", app: "{{ .Chart.AppVersion }}", release: {{ .Release.Name }}, ns: {{ .Release.Namespace }}}',
    'data:',
    '  nested: {{ toJson .Values.nested | quote }}',
    '  missing: "{{ .Values.nothing }}"',
    '  tpl: {{ tpl .Values.text . | quote }}',
    '  yaml: |',
    '    {{- toYaml (dict "list" .Values.list "big" .Values.big) | nindent 4 }}',
    '  roundtrip: {{ (fromYaml "a: [1, 2]").a | toJson | quote }}',
    '  lookup: {{ lookup "v1" "Secret" "ns" "name" | toJson | quote }}',
    '  file: {{ .Files.Get "files/a.json" | quote }}',
    '  glob: "{{ range $path, $_ := .Files.Glob "files/*.json" }}{{ $path }} {{ end }}"',
    '  crd: "{{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" }}"',
    '  apps: "{{ .Capabilities.APIVersions.Has "apps/v1" }}"',
  ].join('\n'),
  'templates/required.yaml': '{{- if .Values.needMsg }}{{ required "msg is required" .Values.msg }}{{ end }}',
  'templates/empty.yaml': '{{- if .Values.never }}\nkind: Never\n{{- end }}\n',
  'templates/NOTES.txt': 'Installed {{ .Release.Name }}.\n',
}
// a chart apart: a template naming an unknown function fails to parse, whatever the values
const envChart = mkdtempSync(join(tmpdir(), 'ccproxy-helm-fixture-env-'))

describe.skipIf(!goAvailable)(`helm/tools/render follows Helm${ifGo}`, () => {
  beforeAll(() => {
    renderer()
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(chart, path)), { recursive: true })
      writeFileSync(join(chart, path), text)
    }
    mkdirSync(join(envChart, 'templates'))
    writeFileSync(join(envChart, 'Chart.yaml'), files['Chart.yaml']!)
    writeFileSync(join(envChart, 'values.yaml'), '{}\n')
    writeFileSync(join(envChart, 'templates/env.yaml'), 'home: {{ env "HOME" }}\n')
  })
  afterAll(() => {
    rmSync(chart, { recursive: true, force: true })
    rmSync(envChart, { recursive: true, force: true })
  })

  it('renders built-in objects, include, tpl, toYaml/toJson/fromYaml, .Files, and a lookup that finds nothing', () => {
    const r = renderChart({ chart, release: 'rel', namespace: 'ns1' })
    expect(r.documents.map((d) => d.template)).toEqual(['templates/cm.yaml'])
    const cm = r.get('ConfigMap', 'fixture-base')
    expect(cm.metadata.labels).toEqual({ chart: 'fixture-1.2.3', app: '4.5', release: 'rel', ns: 'ns1' })
    expect(JSON.parse(cm.data.nested)).toEqual({ keep: 1, drop: 2 })
    expect(cm.data.missing).toBe('') // missingkey=zero, and no "<no value>"
    expect(cm.data.tpl).toBe('base-tpl')
    expect(cm.data.yaml).toBe('big: 10737418240\nlist:\n- a\n- b\n')
    expect(cm.data.roundtrip).toBe('[1,2]')
    expect(cm.data.lookup).toBe('{}')
    expect(cm.data.file).toBe('{"x": "{{ not templated }}"}\n')
    expect(cm.data.glob).toBe('files/a.json files/b.json ')
    expect(cm.data.crd).toBe('false')
    expect(cm.data.apps).toBe('true')
  })

  it('merges value files over values.yaml like Helm: maps key by key, lists replaced, null removes a key', () => {
    const cm = renderChart({ chart, values: { name: 'over', nested: { drop: null, add: 3 }, list: ['c'] } }).get('ConfigMap', 'fixture-over')
    expect(JSON.parse(cm.data.nested)).toEqual({ keep: 1, add: 3 })
    expect(cm.data.yaml).toBe('big: 10737418240\nlist:\n- c\n')
  })

  it('answers .Capabilities.APIVersions.Has for the API versions it is given', () => {
    expect(renderChart({ chart, apiVersions: ['monitoring.coreos.com/v1'] }).get('ConfigMap', 'fixture-base').data.crd).toBe('true')
  })

  it('fails with the message of required, and has no env function (Helm removes it)', () => {
    expect(renderFailure({ chart, values: { needMsg: true } })).toMatch(/msg is required/)
    expect(renderFailure({ chart, values: { needMsg: true, msg: 'given' } })).toBe('')
    expect(renderFailure({ chart: envChart })).toMatch(/function "env" not defined/)
  })

  it('renders NOTES.txt apart from the manifests', () => {
    expect(renderNotes({ chart, release: 'rel' })).toBe('Installed rel.\n')
    expect(renderChart({ chart }).text).not.toContain('Installed')
  })
})
