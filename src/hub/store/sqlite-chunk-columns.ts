/**
 * The columns of the column-wise reads (sqlite-chunks.ts) and of the stored hour chunks
 * (sqlite-chunk-store.ts), in a file of their own so both import them without a cycle. The stored
 * chunks name a column by its index in these objects' key order: append only, never reorder.
 */

/** pv columns and their array type. */
export const PV_COLUMNS = {
  ts: 'f64', visit: 'f64', vid: 'f64', path: 'i32', ref: 'i32', utm_source: 'i32', utm_medium: 'i32', utm_campaign: 'i32',
  utm_term: 'i32', keyword: 'i32', country: 'i32', region: 'i32', city: 'i32', browser: 'i32', os: 'i32', device: 'i32',
  engaged_ms: 'f64', writing_ms: 'f64', scroll: 'f64',
} as const

/** visits columns and their array type (`duration` is end - start; the text columns are dict ids). */
export const VISIT_COLUMNS = {
  id: 'f64', start: 'f64', duration: 'f64', pageviews: 'f64', engaged_n: 'f64', engaged_ms: 'f64', writing_ms: 'f64',
  entry: 'i32', exit: 'i32', ref_host: 'i32', utm_source: 'i32', utm_medium: 'i32', utm_campaign: 'i32', utm_term: 'i32',
  keyword: 'i32', country: 'i32', region: 'i32', city: 'i32', browser: 'i32', os: 'i32', device: 'i32',
} as const

export type PvColumn = keyof typeof PV_COLUMNS
export type VisitColumn = keyof typeof VISIT_COLUMNS
export type Column = Float64Array | Int32Array

