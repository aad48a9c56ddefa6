/**
 * Time-series charts with uPlot: canvas, fast enough for 100,000 points, ~20 KB gzipped.
 * Colours come from the theme's CSS variables, so a theme switch redraws in the new colours.
 * The time axis is always the range asked for, never what uPlot would guess from the points (one
 * lone point made it guess years), and a range with nothing to draw says so over the empty axes.
 */
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import { h } from './dom'

export interface SeriesDef {
  label: string
  /** CSS variable holding the colour, e.g. `--c-total`. */
  color: string
  fill?: boolean
  /** Dash pattern, px (a compared period's line). */
  dash?: number[]
  value?: (v: number) => string
  /** Left out of the legend while it has no values (a compared period when nothing is compared). */
  optional?: boolean
}

/**
 * The points to draw as dots: those with no value on either side. A line needs two neighbours, so
 * without a dot a lone value among gaps (the first minute of live states, one stored sample in a
 * range) would not show at all.
 */
export function lonePoints(ys: ArrayLike<number | null | undefined>): number[] {
  const out: number[] = []
  const has = (i: number): boolean => i >= 0 && i < ys.length && ys[i] !== null && ys[i] !== undefined
  for (let i = 0; i < ys.length; i++) if (has(i) && !has(i - 1) && !has(i + 1)) out.push(i)
  return out
}

function css(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888'
}

export class Chart {
  readonly el: HTMLElement
  private plot: uPlot | null = null
  private data: uPlot.AlignedData = [[]]
  /** The time axis, in seconds (uPlot's unit). */
  private range: [number, number] = [0, 1]
  private readonly empty: HTMLElement
  private readonly observer: ResizeObserver

  /**
   * @param yFormat how the y axis writes its values (e.g. bytes) @default uPlot's numbers
   * @param utc the time axis and the cursor's time in UTC, not the browser's zone (History: its
   * buckets are UTC hours and days, which a local axis would show straddling its ticks) @default false
   */
  constructor(readonly title: string, private readonly series: SeriesDef[], private readonly height = 220, private readonly yFormat?: (v: number) => string,
    private readonly utc = false) {
    this.empty = h('p', { class: 'chart-empty', hidden: true }, 'No data in this range')
    this.el = h('figure', { class: 'chart', role: 'img', 'aria-label': title }, this.empty)
    this.observer = new ResizeObserver(() => this.resize())
    this.observer.observe(this.el)
  }

  /**
   * `data[0]` is time in ms; one array per series after it. The time axis spans `[from, to)` (ms)
   * whatever the points; when no series has a value above zero the chart says "No data in this range".
   */
  set(data: uPlot.AlignedData, from: number, to: number): void {
    this.data = [Float64Array.from(data[0] as ArrayLike<number>, (t) => t / 1000), ...data.slice(1)] as uPlot.AlignedData
    this.range = [from / 1000, Math.max(to, from + 1000) / 1000]
    const none = data.slice(1).every((ys) => !Array.from(ys as ArrayLike<number | null>).some((y) => y !== null && y > 0))
    this.empty.hidden = !none
    this.el.dataset.empty = String(none)
    this.el.dataset.from = String(from)
    this.el.dataset.to = String(to)
    if (this.plot === null) this.make()
    else this.plot.setData(this.data)
    this.legend()
  }

  /** Hides the legend entries of optional series without values, shows them again once they have some. */
  private legend(): void {
    const rows = this.plot?.root.querySelectorAll<HTMLElement>('.u-legend .u-series')
    if (rows === undefined) return
    this.series.forEach((s, i) => {
      const row = rows[i + 1]
      if (row === undefined || s.optional !== true) return
      const ys = Array.from((this.data[i + 1] ?? []) as ArrayLike<number | null>)
      row.style.display = ys.some((y) => y !== null) ? '' : 'none'
    })
  }


  /** Rebuilds with the current theme's colours. */
  restyle(): void {
    if (this.plot === null) return
    this.plot.destroy()
    this.plot = null
    this.make()
    this.legend()
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
    const f = this.yFormat
    if (f !== undefined) Object.assign(axes[1] as uPlot.Axis, { values: (_u: uPlot, splits: number[]) => splits.map((v) => f(v)), size: 64 })
    const opts: uPlot.Options = {
      ...(this.utc ? { tzDate: (ts: number) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC') } : {}),
      width: this.width(),
      height: this.height,
      axes,
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true, range: () => this.range },
        y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] },
      },
      hooks: {
        // what the axis really shows, for anyone checking it (the browser tests do)
        setScale: [(u, key) => {
          if (key !== 'x' || u.scales.x?.min == null || u.scales.x.max == null) return
          this.el.dataset.shownFrom = String(Math.round(u.scales.x.min * 1000))
          this.el.dataset.shownTo = String(Math.round(u.scales.x.max * 1000))
        }],
      },
      series: [
        {},
        ...this.series.map((s): uPlot.Series => {
          const c = css(s.color)
          // dots only where a value stands alone, the lines carry the rest
          const out: uPlot.Series = { label: s.label, stroke: c, width: 2, points: { show: true, size: 6, fill: c, filter: (u, si) => lonePoints(u.data[si] ?? []) } }
          if (s.fill === true) out.fill = `${c}22`
          if (s.dash !== undefined) out.dash = s.dash
          if (s.value !== undefined) { const f = s.value; out.value = (_u, v) => (v === null ? '–' : f(v)) }
          return out
        }),
      ],
    }
    this.plot = new uPlot(opts, this.data, this.el)
  }
}
