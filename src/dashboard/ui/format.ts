/** Number, time and size formatting, locale-aware but compact. */
const nf = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 })
const nf0 = new Intl.NumberFormat()

export function int(n: number): string {
  return nf0.format(Math.round(n))
}

export function num(n: number): string {
  if (Math.abs(n) >= 1e6) return `${nf.format(n / 1e6)}M`
  if (Math.abs(n) >= 1e4) return `${nf.format(n / 1e3)}k`
  return nf.format(n)
}

export function bytes(n: number): string {
  const u = ['B', 'KB', 'MB', 'GB', 'TB']
  let i = 0
  while (Math.abs(n) >= 1024 && i < u.length - 1) { n /= 1024; i++ }
  return `${nf.format(n)} ${u[i]}`
}

export function ms(n: number): string {
  if (n < 1) return `${nf.format(n)} ms`
  if (n < 1000) return `${Math.round(n)} ms`
  return duration(n)
}

/** A duration in at most 7 characters, for table columns: 320 ms, 12.3 s, 1.4 min, 2.1 h. */
export function shortMs(n: number): string {
  if (n < 1000) return ms(n)
  if (n < 60_000) return `${nf.format(n / 1000)} s`
  if (n < 3_600_000) return `${nf.format(n / 60_000)} min`
  return `${nf.format(n / 3_600_000)} h`
}

/** 4 s, 3 min 2 s, 2 h 5 min, 3 d 4 h. */
export function duration(msv: number): string {
  const s = Math.max(0, Math.floor(msv / 1000))
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min ${s % 60} s`
  const hh = Math.floor(m / 60)
  if (hh < 24) return `${hh} h ${m % 60} min`
  return `${Math.floor(hh / 24)} d ${hh % 24} h`
}

/**
 * A duration for a big figure, as Plausible writes it: 45s, 1m 6s, 2h 5m, 3d 4h. At most 7
 * characters, so it fits a History tile on one line where "12 min 30 s" would wrap.
 */
export function compactDuration(msv: number): string {
  const s = Math.max(0, Math.floor(msv / 1000))
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m ${s % 60}s`
  const hh = Math.floor(m / 60)
  if (hh < 24) return `${hh}h ${m % 60}m`
  return `${Math.floor(hh / 24)}d ${hh % 24}h`
}

const tf = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' })
const df = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' })
export function clock(t: number): string {
  return tf.format(t)
}
export function dateTime(t: number): string {
  return df.format(t)
}

const udf = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'UTC' })
/** As dateTime, in UTC (History, whose days and hours are UTC ones). */
export function utcDateTime(t: number): string {
  return udf.format(t)
}
