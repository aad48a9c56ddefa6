/**
 * Page path of a URL, as the store keeps it: the same `splitUrl` ingest uses (readable path plus
 * hash route, query and anchors dropped; src/protocol/page.ts), so live pages and stored page views
 * name a page the same way.
 */
export { pageOf as pathOf } from '../ingest/url'
