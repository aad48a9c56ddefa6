/** A tiny SVG sparkline: one polyline, redrawn only when its data changed. */
import { svg } from './dom'

export class Sparkline {
  readonly el: SVGElement
  private readonly line: SVGElement
  private readonly area: SVGElement
  private last = ''

  constructor(cls: string, label: string) {
    this.el = svg('svg', { class: `spark ${cls}`, viewBox: '0 0 120 30', preserveAspectRatio: 'none', role: 'img', 'aria-label': label })
    this.area = svg('polygon', { class: 'spark-area' })
    this.line = svg('polyline', { class: 'spark-line', 'vector-effect': 'non-scaling-stroke' })
    this.el.append(this.area, this.line)
  }

  /** Points are [t, value]; the x axis spans [from, to]. */
  draw(points: readonly (readonly [number, number])[], from: number, to: number): void {
    let max = 1
    for (const p of points) if (p[1] > max) max = p[1]
    const span = Math.max(1, to - from)
    let d = ''
    let prev = -Infinity
    const pt = (t: number, v: number): void => {
      d += `${(((t - from) / span) * 120).toFixed(1)},${(29 - (v / max) * 27).toFixed(1)} `
    }
    for (const [t, v] of points) {
      if (t < from) continue
      // no sample for over 150 s means nobody was there (or the hub was down): draw it as zero
      if (t - prev > 150_000 && prev > -Infinity) { pt(prev + 30_000, 0); pt(t - 30_000, 0) }
      pt(t, v)
      prev = t
    }
    if (d === this.last) return
    this.last = d
    this.line.setAttribute('points', d)
    const first = d.split(',', 1)[0] ?? '0'
    const lastX = d.trim().split(' ').pop()?.split(',')[0] ?? '120'
    this.area.setAttribute('points', d === '' ? '' : `${first},30 ${d}${lastX},30`)
  }
}
