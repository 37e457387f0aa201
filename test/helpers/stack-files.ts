/**
 * Reads the compose stack's files (compose.yaml, the Prometheus config, the Grafana
 * provisioning and dashboard) into checked shapes, so the tests can compare them with each
 * other and with the code without a Docker engine. Only the keys the tests use are described.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { z } from 'zod'

export const repoPath = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url))
const readYaml = (path: string): unknown => parse(readFileSync(repoPath(path), 'utf8'))

const Service = z.object({
  image: z.string().optional(),
  build: z.unknown().optional(),
  depends_on: z.record(z.string(), z.object({ condition: z.string() })).default({}),
  volumes: z.array(z.string()).default([]),
  environment: z.record(z.string(), z.string()).default({}),
  ports: z.array(z.string()).default([]),
  command: z.array(z.string()).optional(),
  restart: z.string().optional(),
  healthcheck: z.object({ test: z.array(z.string()) }).optional(),
  profiles: z.array(z.string()).default([]),
})
export type Service = z.output<typeof Service>

export function readCompose() {
  return z.object({ services: z.record(z.string(), Service) }).parse(readYaml('compose.yaml'))
}

const Target = z.object({
  job_name: z.string(),
  metrics_path: z.string().default('/metrics'),
  static_configs: z.array(z.object({ targets: z.array(z.string()) })).default([]),
  dns_sd_configs: z
    .array(z.object({ names: z.array(z.string()), type: z.literal('A'), port: z.number() }))
    .default([]),
})

export function readPrometheusConfig() {
  return z
    .object({ scrape_configs: z.array(Target), rule_files: z.array(z.string()).default([]) })
    .parse(readYaml('observability/prometheus/prometheus.yml'))
}

export function readGrafanaProvisioning() {
  const datasources = z
    .object({
      datasources: z.array(z.object({ uid: z.string(), type: z.string(), url: z.string() })),
    })
    .parse(readYaml('observability/grafana/provisioning/datasources/prometheus.yml'))
  const dashboards = z
    .object({ providers: z.array(z.object({ options: z.object({ path: z.string() }) })) })
    .parse(readYaml('observability/grafana/provisioning/dashboards/outbox.yml'))
  return { datasources: datasources.datasources, providers: dashboards.providers }
}

const DatasourceRef = z.object({ type: z.string(), uid: z.string() })
const Panel = z.object({
  id: z.number(),
  type: z.string(),
  title: z.string(),
  datasource: DatasourceRef.optional(),
  targets: z
    .array(z.object({ refId: z.string(), expr: z.string(), datasource: DatasourceRef.optional() }))
    .default([]),
  panels: z.array(z.unknown()).default([]),
})
export type Panel = z.output<typeof Panel>

/** The dashboard, with the panels of collapsed rows (kept inside the row) flattened in. */
export function readDashboard(path = 'observability/grafana/dashboards/outbox.json') {
  const dashboard = z
    .object({
      uid: z.string(),
      title: z.string(),
      schemaVersion: z.number(),
      panels: z.array(Panel),
    })
    .parse(JSON.parse(readFileSync(repoPath(path), 'utf8')))
  const panels = dashboard.panels.flatMap((p) => [p, ...z.array(Panel).parse(p.panels)])
  return { ...dashboard, panels }
}

/** A compose bind mount "./host:/container[:ro]" as paths. */
export function bindMounts(service: Service) {
  return service.volumes
    .filter((v) => v.startsWith('./'))
    .map((v) => {
      const [host = '', container = ''] = v.split(':')
      return { host: host.slice(2), container }
    })
}
