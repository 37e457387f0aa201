/**
 * Prometheus and Grafana against compose.yaml: each scrape job reaches the compose service
 * that runs that process, on the port the service is told to listen on; the files compose
 * mounts are the ones in observability/, at the paths their configs expect.
 */
import { existsSync, readFileSync } from 'node:fs'
import { posix } from 'node:path'
import { describe, expect, it } from 'vitest'
import { exporterMetrics, metricsByJob } from '../helpers/registered-metrics'
import {
  bindMounts,
  readCompose,
  readGrafanaProvisioning,
  readPrometheusConfig,
  repoPath,
  type Service,
} from '../helpers/stack-files'

/** Per job: the entrypoint its service runs and the setting that names its HTTP port. */
const processes: Record<string, { entrypoint: string; portSetting: string }> = {
  api: { entrypoint: 'dist/main/api.js', portSetting: 'PORT' },
  relay: { entrypoint: 'dist/main/relay.js', portSetting: 'METRICS_PORT' },
  consumer: { entrypoint: 'dist/main/consume.js', portSetting: 'METRICS_PORT' },
}

const { services } = readCompose()
const service = (name: string): Service => {
  const s = services[name]
  if (!s) throw new Error(`compose.yaml has no service ${name}`)
  return s
}
/** Where a container path of a service's bind mounts comes from, relative to the repo. */
const hostPathOf = (s: Service, containerPath: string) => {
  const mount = bindMounts(s).find(
    (m) => containerPath === m.container || containerPath.startsWith(`${m.container}/`),
  )
  return mount && posix.join(mount.host, posix.relative(mount.container, containerPath))
}

describe('Prometheus scrape config', () => {
  const jobs = readPrometheusConfig().scrape_configs
  const exposed = [
    ...readFileSync(repoPath('Dockerfile'), 'utf8').matchAll(/^EXPOSE (.+)$/gm),
  ].flatMap((m) => m[1]?.split(/\s+/) ?? [])

  it('scrapes exactly the processes that register metrics (api, relay, consumer) and the exporters', () => {
    expect(jobs.map((j) => j.job_name).sort()).toEqual(
      [...Object.keys(metricsByJob()), ...Object.keys(exporterMetrics)].sort(),
    )
    expect(Object.keys(processes).sort()).toEqual(Object.keys(metricsByJob()).sort())
  })

  it.each(Object.entries(processes))('job %s targets its compose service and port', (job, p) => {
    const config = jobs.find((j) => j.job_name === job)
    expect(config?.metrics_path).toBe('/metrics')
    const targets = [
      ...(config?.static_configs.flatMap((s) => s.targets) ?? []),
      ...(config?.dns_sd_configs.flatMap((d) => d.names.map((n) => `${n}:${d.port}`)) ?? []),
    ]
    expect(targets.length).toBeGreaterThan(0)
    for (const target of targets) {
      const [host = '', port] = target.split(':')
      const s = service(host)
      expect(s.command, `${host} runs ${p.entrypoint}`).toContain(p.entrypoint)
      expect(s.environment[p.portSetting], `${host} ${p.portSetting}`).toBe(port)
      expect(s.healthcheck?.test.join(' '), `${host} healthcheck port`).toContain(`:${port}/`)
      expect(exposed, `Dockerfile EXPOSE ${port}`).toContain(port)
    }
  })
})

describe('the observability profile in compose.yaml', () => {
  it('holds prometheus, grafana and kafka-exporter, and nothing else is in a profile', () => {
    const profiled = Object.entries(services).filter(([, s]) => s.profiles.length > 0)
    expect(Object.fromEntries(profiled.map(([name, s]) => [name, s.profiles]))).toEqual({
      grafana: ['observability'],
      'kafka-exporter': ['observability'],
      prometheus: ['observability'],
    })
  })

  it('mounts the Prometheus config and every rule file it names where Prometheus reads them', () => {
    const prometheus = service('prometheus')
    expect(hostPathOf(prometheus, '/etc/prometheus/prometheus.yml')).toBe(
      'observability/prometheus/prometheus.yml',
    )
    const { rule_files } = readPrometheusConfig()
    expect(rule_files).toEqual(['alerts.yml'])
    for (const file of rule_files) {
      expect(hostPathOf(prometheus, posix.join('/etc/prometheus', file))).toBe(
        `observability/prometheus/${file}`,
      )
    }
  })

  it('job kafka targets the kafka-exporter service, which reads the compose broker', () => {
    const kafka = readPrometheusConfig().scrape_configs.find((j) => j.job_name === 'kafka')
    expect(kafka?.static_configs.flatMap((s) => s.targets)).toEqual(['kafka-exporter:9308'])
    expect(service('kafka-exporter').command).toEqual(['--kafka.server=redpanda:9092'])
  })

  it('gives Grafana its provisioning, a datasource that reaches prometheus, and the dashboards', () => {
    const grafana = service('grafana')
    expect(hostPathOf(grafana, '/etc/grafana/provisioning')).toBe(
      'observability/grafana/provisioning',
    )
    const { datasources, providers } = readGrafanaProvisioning()
    for (const d of datasources) {
      const url = new URL(d.url)
      expect(service(url.hostname).ports.some((p) => p.endsWith(`:${url.port}`))).toBe(true)
    }
    for (const { options } of providers) {
      expect(hostPathOf(grafana, options.path)).toBe('observability/grafana/dashboards')
    }
    const home = grafana.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH ?? ''
    const homeOnHost = hostPathOf(grafana, home)
    expect(homeOnHost && existsSync(repoPath(homeOnHost)), home).toBe(true)
  })
})
