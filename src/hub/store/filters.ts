/**
 * Filters, independent of the database: which dimensions filter, and what a filter selects. Every
 * store answers `series`, `top`, `totals` and `visitTotals` with the same meaning; the contract
 * suite checks it against hand-counted fixtures.
 *
 * A filter is a dimension, an operator and a value: `is` (equal), `not` (not equal, and a missing
 * value counts as not equal: `referrer` not `google.com` keeps direct visits) and `contains`
 * (substring, ignoring ASCII case). On a visit dimension the value '' (NO_VALUE) means none: `is ''`
 * keeps the visits without a value (`referrer` is '': direct visits), `not ''` those with one.
 * Filters combine with AND. What one selects depends on its kind:
 * - Visit dimensions (`entry_page`, `exit_page`, `referrer`, `utm_*`, `keyword`): a visit by its own
 *   value (the first page view's source, its first and last page); a page view by its visit's.
 * - `page`: a page view by its path; a visit when at least one of its page views matches.
 * - `country`, `region`, `city`, `browser`, `os`, `device`: a page view by its own value; a visit by its first page
 *   view's (the same for all of them: the visitor id hashes IP and user agent).
 * - `event` (a custom event's name): a visit when at least one custom event attributed to it matches;
 *   a page view when its visit does; a custom event (the `event` top list) by its own name.
 * - `prop` (a custom event's property, `key` naming which, its value compared as text): a custom
 *   event by its own properties (`not`: the events without that key count as not equal); a visit
 *   when at least one custom event attributed to it matches; a page view when its visit does.
 * A custom event belongs to the visit of its visitor that it falls in (from 30 minutes before the
 * visit's first page view to 30 minutes after its last); one with no such visit belongs to none.
 */

/** The dimensions a query can filter on: the query parameter names of the read API. */
export const FILTER_DIMENSIONS = [
  'page', 'entry_page', 'exit_page', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'keyword',
  'country', 'region', 'city', 'browser', 'os', 'device', 'event',
] as const
export type FilterDimension = (typeof FILTER_DIMENSIONS)[number]

export type FilterOp = 'is' | 'not' | 'contains'

/** A filter on a dimension, or on a custom event property (`dim: 'prop'` with its `key`). */
export type Filter =
  | { dim: FilterDimension; op: FilterOp; value: string; key?: undefined }
  | { dim: 'prop'; key: string; op: FilterOp; value: string }

/** Longest property key a filter or breakdown names (protocol's prop key limit). */
export const MAX_PROP_KEY = 64

/** Dimensions that belong to the visit (its source, its first and last page). */
export const VISIT_LEVEL: ReadonlySet<FilterDimension> = new Set([
  'entry_page', 'exit_page', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'keyword',
])

/** Longest filter value, in UTF-16 units: no stored value is longer (paths and URLs are cut shorter). */
export const MAX_FILTER_VALUE = 2048
/** Most filters in one query. */
export const MAX_FILTERS = 20

export function isFilterDimension(name: string): name is FilterDimension {
  return (FILTER_DIMENSIONS as readonly string[]).includes(name)
}
