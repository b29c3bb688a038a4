import { CLICKHOUSE_TYPE, PROMETHEUS_TYPE, provisionedUid } from './datasources.ts'
import { DASHBOARD_TAG } from './skeleton.ts'

/**
 * Grafana provisioning for ccproxy: the two data sources and the dashboard folder. Connection details come
 * from Grafana's environment (Grafana expands $VAR in provisioning files), so the same files serve the
 * local stack (deploy/compose.yaml sets them) and any other Grafana.
 */

/** Where the generated dashboard JSON is mounted inside the Grafana container. */
export const GRAFANA_DASHBOARDS_PATH = '/var/lib/grafana/dashboards/ccproxy'

/** The environment variables the data source file reads. */
export const DATASOURCE_ENV = ['CLICKHOUSE_HOST', 'CLICKHOUSE_USER', 'CLICKHOUSE_PASSWORD', 'CLICKHOUSE_DATABASE', 'PROMETHEUS_URL'] as const

export function datasourceProvisioning() {
  return {
    apiVersion: 1,
    datasources: [
      {
        name: 'ClickHouse (ccproxy)',
        type: CLICKHOUSE_TYPE,
        uid: provisionedUid.clickhouse,
        jsonData: {
          // HTTP works against a ClickHouse server and against the gateway's embedded engine alike
          protocol: 'http',
          host: '$CLICKHOUSE_HOST',
          port: 8123,
          secure: false,
          username: '$CLICKHOUSE_USER',
          defaultDatabase: '$CLICKHOUSE_DATABASE',
          // OpenTelemetry traces the collector writes (deploy/otel-collector.yaml), for Explore
          traces: { defaultDatabase: 'otel', defaultTable: 'otel_traces', otelEnabled: true },
        },
        secureJsonData: { password: '$CLICKHOUSE_PASSWORD' },
        editable: false,
      },
      {
        name: 'Prometheus (ccproxy)',
        type: PROMETHEUS_TYPE,
        uid: provisionedUid.prometheus,
        access: 'proxy',
        url: '$PROMETHEUS_URL',
        isDefault: true,
        editable: false,
      },
    ],
  }
}

export function dashboardProvisioning() {
  return {
    apiVersion: 1,
    providers: [
      {
        name: DASHBOARD_TAG,
        orgId: 1,
        folder: 'ccproxy',
        folderUid: 'ccproxy',
        type: 'file',
        disableDeletion: false,
        allowUiUpdates: false,
        updateIntervalSeconds: 30,
        options: { path: GRAFANA_DASHBOARDS_PATH, foldersFromFilesStructure: false },
      },
    ],
  }
}
