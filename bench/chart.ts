/** A small dependency-free SVG: latency percentiles per wake-up mode, log scale. */
export type Bar = { group: string; series: string; value: number }

export function latencyChart(title: string, bars: Bar[]): string {
  const groups = [...new Set(bars.map((b) => b.group))]
  const series = [...new Set(bars.map((b) => b.series))]
  const colors = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2']
  const width = 160 + groups.length * (series.length * 26 + 40)
  const height = 320
  const top = 40
  const bottom = 260
  const max = Math.max(...bars.map((b) => b.value), 1)
  const ticks = [0.1, 1, 10, 100, 1000, 10_000].filter((t) => t <= max * 10)
  const lo = Math.log10(0.1)
  const hi = Math.log10(ticks.at(-1) ?? 10)
  const y = (v: number) =>
    bottom - ((Math.log10(Math.max(v, 0.1)) - lo) / (hi - lo)) * (bottom - top)
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12" role="img" aria-label="${title}">`,
    `<title>${title}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${title}</text>`,
  ]
  for (const t of ticks) {
    parts.push(`<line x1="60" x2="${width - 10}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/>`)
    parts.push(`<text x="55" y="${y(t) + 4}" text-anchor="end">${t} ms</text>`)
  }
  groups.forEach((group, gi) => {
    const x0 = 80 + gi * (series.length * 26 + 40)
    series.forEach((s, si) => {
      const bar = bars.find((b) => b.group === group && b.series === s)
      if (!bar) return
      const x = x0 + si * 26
      parts.push(
        `<rect x="${x}" y="${y(bar.value)}" width="22" height="${bottom - y(bar.value)}" fill="${colors[si % colors.length]}"><title>${group} ${s}: ${bar.value.toFixed(2)} ms</title></rect>`,
      )
    })
    parts.push(
      `<text x="${x0 + (series.length * 26) / 2}" y="${bottom + 18}" text-anchor="middle">${group}</text>`,
    )
  })
  series.forEach((s, si) => {
    const x = 80 + si * 80
    parts.push(
      `<rect x="${x}" y="${height - 30}" width="12" height="12" fill="${colors[si % colors.length]}"/>`,
    )
    parts.push(`<text x="${x + 16}" y="${height - 20}">${s}</text>`)
  })
  parts.push('</svg>')
  return parts.join('\n')
}
