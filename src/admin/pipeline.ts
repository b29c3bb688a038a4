import type { FastifyInstance } from 'fastify'
import type { ExporterStats } from '../sinks/exporter.ts'

/** GET /api/stats/pipeline: the recording pipeline's own health (queue, rows written, spooled, dropped). */
export function pipelineAdminRoutes(app: FastifyInstance, deps: { exporter: { stats(): ExporterStats } }): void {
  app.get('/api/stats/pipeline', async () => ({ exporter: deps.exporter.stats(), rss_bytes: process.memoryUsage().rss }))
}
