/**
 * A small SVG sparkline that can be read: the line fills its box from zero to the peak, the peak is
 * written at the top with its value, the latest value and the span below it. The SVG is redrawn only
 * when its data changed; the labels are HTML, so the stretched SVG never distorts text.
 */
import { h, setText, svg } from './dom'
import { num } from './format'

const W = 120
const H = 40

export class Sparkline {
  readonly el: HTMLElement
  private readonly svg: SVGElement
  private readonly line: SVGElement
  private readonly area: SVGElement
  private readonly peak: HTMLElement
  private readonly now: HTMLElement
  private last = ''

  /**
   * @param cls colour class: total, reading, writing or idle
   * @param label what it shows, for screen readers
   * @param format how a value is written in the labels
   * @param span the span below the line, e.g. "last hour"
   */
  constructor(cls: string, label: string, private readonly format: (v: number) => string = num, span = 'last hour') {
    this.svg = svg('svg', { class: 'spark', viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', 'aria-hidden': 'true' })
    this.area = svg('polygon', { class: 'spark-area' })
    this.line = svg('polyline', { class: 'spark-line', 'vector-effect': 'non-scaling-stroke' })
    this.svg.append(svg('line', { class: 'spark-top', x1: 0, y1: 1, x2: W, y2: 1, 'vector-effect': 'non-scaling-stroke' }), this.area, this.line)
    this.peak = h('span', { class: 'spark-peak' })
    this.now = h('span', { class: 'spark-now' })
    this.el = h('figure', { class: `spark-box ${cls}`, role: 'img', 'aria-label': label },
      h('div', { class: 'spark-plot' }, this.svg, this.peak),
      h('figcaption', { class: 'spark-foot' }, h('span', null, span), this.now))
  }

  /** Points are [t, value]; the x axis spans [from, to], the y axis [0, peak]. */
  draw(points: readonly (readonly [number, number])[], from: number, to: number): void {
    let max = 0
    let latest: number | null = null
    for (const p of points) {
      if (p[0] < from) continue
      if (p[1] > max) max = p[1]
      latest = p[1]
    }
    const top = max > 0 ? max : 1
    const span = Math.max(1, to - from)
    let d = ''
    let prev = -Infinity
    const pt = (t: number, v: number): void => {
      d += `${(((t - from) / span) * W).toFixed(1)},${(H - 1 - (v / top) * (H - 2)).toFixed(1)} `
    }
    for (const [t, v] of points) {
      if (t < from) continue
      // no sample for over 150 s means nobody was there (or the hub was down): draw it as zero
      if (t - prev > 150_000 && prev > -Infinity) { pt(prev + 30_000, 0); pt(t - 30_000, 0) }
      pt(t, v)
      prev = t
    }
    setText(this.peak, `peak ${this.format(max)}`)
    setText(this.now, latest === null ? 'no data yet' : `now ${this.format(latest)}`)
    this.el.dataset.peak = String(max)
    this.el.dataset.now = latest === null ? '' : String(latest)
    if (d === this.last) return
    this.last = d
    this.line.setAttribute('points', d)
    const first = d.split(',', 1)[0] ?? '0'
    const lastX = d.trim().split(' ').pop()?.split(',')[0] ?? String(W)
    this.area.setAttribute('points', d === '' ? '' : `${first},${H} ${d}${lastX},${H}`)
  }
}
