/**
 * Page path of a URL, as the store keeps it (`enrich.ts`: `new URL(url).pathname`, query and
 * hash dropped), so that live pages and stored pageviews name a page the same way.
 */
export function pathOf(url: string): string {
  try {
    return new URL(url).pathname || '/'
  } catch {
    // a relative or odd URL: keep its path part, as enrich does
    return url.split(/[?#]/, 1)[0] || '/'
  }
}
