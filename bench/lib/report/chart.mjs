/**
 * A plain SVG bar chart of the throughput ratios (scenario ÷ its baseline, bench/results/latest.svg):
 * echo scenarios by round trips per second with 100 in flight, payloads (1 MiB and 50 MiB) by MiB/s,
 * one-way scenarios (pipelined, streams, many clients) by msg/s. Log scale, a line at 1×; bars right of it are faster than the baseline. No dependency.
 */
import { writeFileSync } from 'node:fs'

const RATE = { echo: 'inflight100RtPerSec', payload: 'mibPerSec', oneway: 'msgsPerSec' }
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

export function ratioBars(result) {
  return result.ratios
    .map((r) => ({ label: `${result.scenarios[r.ipfi].label} ÷ ${result.scenarios[r.baseline].label}`, value: r[RATE[r.type ?? 'echo']], type: r.type ?? 'echo' }))
    .filter((b) => Number.isFinite(b.value) && b.value > 0)
}

export function ratioSvg(result) {
  const bars = ratioBars(result)
  const rowH = 18
  // Wide enough for the longest label (about 6 px a character at 11 px sans-serif).
  const labelW = Math.max(300, Math.ceil(Math.max(...bars.map((b) => b.label.length)) * 6.2) + 16)
  const plotW = 420
  const top = 40
  const width = labelW + plotW + 70
  const height = top + bars.length * rowH + 30
  const lo = Math.min(0.1, ...bars.map((b) => b.value))
  const hi = Math.max(10, ...bars.map((b) => b.value))
  const [l0, l1] = [Math.log10(lo), Math.log10(hi)]
  const x = (v) => labelW + ((Math.log10(v) - l0) / (l1 - l0)) * plotW
  const color = { echo: '#4878a8', payload: '#c07830', oneway: '#50a060' }
  const out = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`)
  out.push(`<rect width="100%" height="100%" fill="white"/>`)
  out.push(`<text x="8" y="16" font-size="13" font-weight="bold">${esc(`ipfi bench (${result.mode}) ${result.date}: throughput ratios, log scale (right of 1× = faster than the baseline)`)}</text>`)
  out.push(`<text x="8" y="31" fill="#555">${esc('blue: small-message RT/s with 100 in flight; orange: payload echo MiB/s; green: one-way, stream and many-client msg/s')}</text>`)
  for (let e = Math.ceil(l0); e <= Math.floor(l1); e++) {
    const v = 10 ** e
    for (const m of [1, 2, 5]) {
      const t = v * m
      if (t < lo || t > hi) continue
      const tx = x(t).toFixed(1)
      out.push(`<line x1="${tx}" y1="${top - 4}" x2="${tx}" y2="${height - 24}" stroke="${t === 1 ? '#000' : '#ddd'}"/>`)
      out.push(`<text x="${tx}" y="${height - 10}" text-anchor="middle" fill="#555">${t}×</text>`)
    }
  }
  bars.forEach((b, i) => {
    const y = top + i * rowH
    const x1 = x(1)
    const xv = x(b.value)
    out.push(`<text x="${labelW - 6}" y="${y + 12}" text-anchor="end">${esc(b.label)}</text>`)
    out.push(`<rect x="${Math.min(x1, xv).toFixed(1)}" y="${y + 3}" width="${Math.max(1, Math.abs(xv - x1)).toFixed(1)}" height="${rowH - 6}" fill="${color[b.type]}"/>`)
    out.push(`<text x="${(Math.max(x1, xv) + 4).toFixed(1)}" y="${y + 12}">${b.value < 10 ? b.value.toFixed(2) : b.value.toFixed(1)}×</text>`)
  })
  out.push('</svg>')
  return `${out.join('\n')}\n`
}

/** Write the chart; false when there is nothing to draw (no pair of scenarios was run). */
export function writeRatioChart(result, file) {
  if (!ratioBars(result).length) return false
  writeFileSync(file, ratioSvg(result))
  return true
}
