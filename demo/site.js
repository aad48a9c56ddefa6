'use strict'
/**
 * The demo's made-up site: an independent bookshop. Pages with their titles and how often people
 * open them, where visits come from (search, links, a newsletter and a social campaign), the
 * countries they come from (as addresses the bundled IP database places there) and their browsers.
 * The live demo (visitors.js) and the screenshots' history (test/fixtures/dashboard) both use it.
 */

const SITE = 'paperlantern.example'
const NAME = 'Paper Lantern Books'

/** `weight`: how often people open it; `form`: people type there (search, checkout, reviews). */
const PAGES = [
  { path: '/', title: `${NAME}: independent bookshop`, weight: 20 },
  { path: '/category/science-fiction', title: `Science fiction · ${NAME}`, weight: 9 },
  { path: '/category/new-releases', title: `New releases · ${NAME}`, weight: 8 },
  { path: '/books/piranesi', title: `Piranesi by Susanna Clarke · ${NAME}`, weight: 8 },
  { path: '/books/project-hail-mary', title: `Project Hail Mary by Andy Weir · ${NAME}`, weight: 7 },
  { path: '/books/the-dispossessed', title: `The Dispossessed by Ursula K. Le Guin · ${NAME}`, weight: 6 },
  { path: '/books/a-psalm-for-the-wild-built', title: `A Psalm for the Wild-Built by Becky Chambers · ${NAME}`, weight: 5 },
  { path: '/blog/summer-reading-list', title: `Our summer reading list · ${NAME}`, weight: 7 },
  { path: '/search', title: `Search · ${NAME}`, weight: 6, form: true },
  { path: '/cart', title: `Your basket · ${NAME}`, weight: 6 },
  { path: '/checkout', title: `Checkout · ${NAME}`, weight: 4, form: true },
  { path: '/account/reviews/new', title: `Write a review · ${NAME}`, weight: 2, form: true },
  { path: '/about', title: `About us · ${NAME}`, weight: 3 },
]

/** Pages a visit starts on: not a form, not the basket. */
const LANDING = PAGES.filter((p) => !p.form && p.path !== '/cart')

/** Where a visit comes from: the landing page's referrer and UTM query. */
const SOURCES = [
  { weight: 30, referrer: '', query: '' },
  { weight: 22, referrer: 'https://www.google.com/', query: '' },
  { weight: 6, referrer: 'https://www.bing.com/search?q=independent+bookshop+science+fiction', query: '' },
  { weight: 3, referrer: 'https://duckduckgo.com/?q=piranesi+paperback', query: '' },
  { weight: 12, referrer: '', query: 'utm_source=newsletter&utm_medium=email&utm_campaign=june-new-releases' },
  { weight: 8, referrer: 'https://t.co/', query: 'utm_source=twitter&utm_medium=social&utm_campaign=summer-reading' },
  { weight: 6, referrer: 'https://news.ycombinator.com/item?id=41234567', query: '' },
  { weight: 6, referrer: 'https://www.reddit.com/r/printSF/', query: '' },
  { weight: 4, referrer: 'https://www.goodreads.com/', query: '' },
]

/** A /24 per country that the bundled DB-IP Lite country database places there. */
const COUNTRIES = [
  { weight: 28, code: 'US', net: '73.12.44.' },
  { weight: 12, code: 'DE', net: '79.201.9.' },
  { weight: 11, code: 'GB', net: '86.140.1.' },
  { weight: 7, code: 'FR', net: '90.40.2.' },
  { weight: 7, code: 'CA', net: '99.240.3.' },
  { weight: 6, code: 'IN', net: '122.170.4.' },
  { weight: 5, code: 'NL', net: '77.170.5.' },
  { weight: 4, code: 'AU', net: '1.140.7.' },
  { weight: 4, code: 'JP', net: '153.140.6.' },
  { weight: 4, code: 'BR', net: '177.20.8.' },
  { weight: 4, code: 'ES', net: '83.40.9.' },
  { weight: 3, code: 'IT', net: '151.30.1.' },
  { weight: 3, code: 'MX', net: '201.150.3.' },
]

/** Browsers, with the screen widths they come with. (A visitor is site + address + browser: the address tells them apart.) */
const AGENTS = [
  { weight: 30, screens: [1280, 1440, 1920], ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.6723.92 Safari/537.36' },
  { weight: 22, screens: [390, 393, 430], ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1' },
  { weight: 16, screens: [412, 384], ua: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.6723.92 Mobile Safari/537.36' },
  { weight: 14, screens: [1440, 1512, 1728], ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15' },
  { weight: 10, screens: [1366, 1920], ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:131.0) Gecko/20100101 Firefox/131.0' },
  { weight: 5, screens: [1920, 2560], ua: 'Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0' },
  { weight: 3, screens: [1280, 1536], ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.6723.92 Safari/537.36 Edg/130.0.2849.68' },
]

const LANGUAGES = ['en-US', 'en-US', 'en-GB', 'de-DE', 'fr-FR', 'es-ES', 'ja-JP', 'pt-BR', 'nl-NL', 'it-IT']

/** Picks from a list by `weight`, with `rand` in [0, 1). */
function weighted(list, rand = Math.random()) {
  const total = list.reduce((n, x) => n + x.weight, 0)
  let r = rand * total
  for (const x of list) {
    r -= x.weight
    if (r < 0) return x
  }
  return list[list.length - 1]
}

/** The page a visitor opens next: the basket leads to checkout, a book page to the basket, else by weight. */
function nextPage(from, rand = Math.random) {
  if (from === '/cart' && rand() < 0.5) return PAGES.find((p) => p.path === '/checkout')
  if (from.startsWith('/books/') && rand() < 0.25) return PAGES.find((p) => p.path === '/cart')
  let p
  do p = weighted(PAGES, rand())
  while (p.path === from)
  return p
}

module.exports = { SITE, NAME, PAGES, LANDING, SOURCES, COUNTRIES, AGENTS, LANGUAGES, weighted, nextPage }
