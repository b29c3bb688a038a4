/** Credentials for the embedded engine's HTTP interface in tests that start one themselves. */
export const HTTP_CREDENTIALS = { user: 'ccproxy', password: 'embedded-http-test-password' }

/** The same as URL parameters, ClickHouse's third way to send them (for plain fetch calls). */
export const AUTH_PARAMS = `user=${HTTP_CREDENTIALS.user}&password=${HTTP_CREDENTIALS.password}`

/** The same as @clickhouse/client options. */
export const CLIENT_AUTH = { username: HTTP_CREDENTIALS.user, password: HTTP_CREDENTIALS.password }
