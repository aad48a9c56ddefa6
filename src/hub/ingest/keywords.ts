/**
 * The keyword dimension: `utm_term` from the page URL, else the search words a search engine still
 * puts in its referrer's query string (`q`, `p`, `text`, `wd`, ...). Keywords are compared as
 * people read them: decoded, spaces collapsed, lower case, at most KEYWORD_MAX characters.
 */
import { readableValue } from '../../protocol/page'

/** Longest keyword kept, in characters (code points); longer ones are cut. */
export const KEYWORD_MAX = 200

/** The raw value of a query parameter (`name` given with its `=`), first one wins; null when absent. */
export function queryParam(query: string, nameEq: string): string | null {
  let from = 0
  for (;;) {
    const at = query.indexOf(nameEq, from)
    if (at === -1) return null
    if (at === 0 || query.charCodeAt(at - 1) === 38 /* & */) {
      const start = at + nameEq.length
      const end = query.indexOf('&', start)
      return query.slice(start, end === -1 ? query.length : end)
    }
    from = at + 1
  }
}

/** A query parameter's readable value; null when absent or empty. */
export function queryValue(query: string, nameEq: string): string | null {
  const raw = queryParam(query, nameEq)
  if (raw === null || raw === '') return null
  return readableValue(raw)
}

// Engines that send their query in the referrer, matched on the referrer's host key (no `www.`),
// with the parameters they use, most specific first.
const ENGINES: readonly (readonly [RegExp, readonly string[]])[] = [
  [/(^|\.)google\.(com?\.)?[a-z]{2,3}$/, ['q=']],
  [/(^|\.)bing\.com$/, ['q=']],
  [/(^|\.)duckduckgo\.com$|(^|\.)duck\.com$/, ['q=']],
  [/(^|\.)yahoo\.(com?\.)?[a-z]{2,3}$/, ['p=', 'q=']],
  [/(^|\.)yandex\.(com?\.)?[a-z]{2,3}$|(^|\.)ya\.ru$/, ['text=']],
  [/(^|\.)baidu\.com$/, ['wd=', 'word=', 'kw=']],
  [/(^|\.)(naver\.com|sogou\.com|coccoc\.com|rambler\.ru|petalsearch\.com|swisscows\.com)$/, ['query=', 'q=']],
  [/(^|\.)startpage\.com$/, ['query=', 'q=']],
  [/(^|\.)(ecosia\.org|qwant\.com|brave\.com|daum\.net|seznam\.cz|so\.com|ask\.com|aol\.com|kagi\.com|mojeek\.com|yep\.com|you\.com|presearch\.com|lycos\.com|dogpile\.com|mail\.ru|perplexity\.ai)$/, ['q=', 'query=']],
  [/(^|\.)amazon\.(com?\.)?[a-z]{2,3}$/, ['k=', 'field-keywords=']],
]
// A host with a `search` label (search.example.org, a site's own engine): the usual parameters.
const SEARCH_HOST = /(^|\.)(search|searx|searxng)(\.|$)/
const COMMON: readonly string[] = ['q=', 'query=', 'p=', 'text=', 'wd=', 'k=', 'keyword=', 'keywords=', 'search=', 'term=']

function paramsFor(refKey: string): readonly string[] | null {
  for (const [re, params] of ENGINES) if (re.test(refKey)) return params
  return SEARCH_HOST.test(refKey) ? COMMON : null
}

/** A keyword as stored: spaces collapsed, lower case, cut at a character boundary; null when empty. */
export function normaliseKeyword(value: string | null): string | null {
  if (value === null) return null
  let k = value.replace(/\s+/g, ' ').trim()
  if (k === '') return null
  // an escape left undecoded (invalid UTF-8) stays as sent, only the text is lower-cased
  k = k.indexOf('%') === -1 ? k.toLowerCase() : k.replace(/%[\da-fA-F]{2}|[^%]+|%/g, (m) => (m.length === 3 && m[0] === '%' ? m : m.toLowerCase()))
  if (k.length > KEYWORD_MAX) k = Array.from(k).slice(0, KEYWORD_MAX).join('')
  return k
}

/** The search words in an external referrer's query, or null when it is not a search engine's. */
export function searchKeyword(refKey: string, query: string): string | null {
  if (query === '') return null
  const params = paramsFor(refKey)
  if (params === null) return null
  for (const p of params) {
    const v = normaliseKeyword(queryValue(query, p))
    if (v !== null) return v
  }
  return null
}
