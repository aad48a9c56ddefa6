/**
 * Time-series charts with uPlot: canvas, fast enough for 100,000 points, ~20 KB gzipped.
 * Colours come from the theme's CSS variables, so a theme switch redraws in the new colours.
 */
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import { h } from './dom'

export interface SeriesDef {
  label: string
  /** CSS variable holding the colour, e.g. `--c-total`. */
  color: string
  fill?: boolean
  value?: (v: number) => string
}

function css(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888'
}

export class Chart {
  readonly el: HTMLElement
  private plot: uPlot | null = null
  private data: uPlot.AlignedData = [[]]
  private readonly observer: ResizeObserver

  constructor(readonly title: string, private readonly series: SeriesDef[], private readonly height = 220) {
    this.el = h('figure', { class: 'chart', role: 'img', 'aria-label': title })
    this.observer = new ResizeObserver(() => this.resize())
    this.observer.observe(this.el)
  }

  /** `data[0]` is time in ms; one array per series after it. */
  set(data: uPlot.AlignedData): void {
    this.data = [Float64Array.from(data[0] as ArrayLike<number>, (t) => t / 1000), ...data.slice(1)] as uPlot.AlignedData
    if (this.plot === null) this.make()
    else this.plot.setData(this.data)
  }

  /** Rebuilds with the current theme's colours. */
  restyle(): void {
    if (this.plot === null) return
    this.plot.destroy()
    this.plot = null
    this.make()
  }

  private width(): number {
    return Math.max(200, Math.floor(this.el.clientWidth || this.el.parentElement?.clientWidth || 600))
  }

  private resize(): void {
    if (this.plot !== null) {
      const w = this.width()
      if (Math.abs(w - this.plot.width) > 2) this.plot.setSize({ width: w, height: this.height })
    }
  }

  private make(): void {
    const axis = css('--muted')
    const grid = css('--grid')
    const axes: uPlot.Axis[] = [
      { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
      { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 50 },
    ]
    const opts: uPlot.Options = {
      width: this.width(),
      height: this.height,
      axes,
      cursor: { drag: { x: false, y: false } },
      scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      series: [
        {},
        ...this.series.map((s): uPlot.Series => {
          const c = css(s.color)
          const out: uPlot.Series = { label: s.label, stroke: c, width: 2, points: { show: false } }
          if (s.fill === true) out.fill = `${c}22`
          if (s.value !== undefined) { const f = s.value; out.value = (_u, v) => (v === null ? '–' : f(v)) }
          return out
        }),
      ],
    }
    this.plot = new uPlot(opts, this.data, this.el)
  }
}
