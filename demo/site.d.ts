/** Types of demo/site.js, for the TypeScript fixtures that draw the demo's history. */
export interface Page { path: string; title: string; weight: number; form?: boolean }
export interface Source { weight: number; referrer: string; query: string }
export interface Country { weight: number; code: string; net: string }
export interface Agent { weight: number; screens: number[]; ua: string }
export const SITE: string
export const NAME: string
export const PAGES: Page[]
export const LANDING: Page[]
export const SOURCES: Source[]
export const COUNTRIES: Country[]
export const AGENTS: Agent[]
export const LANGUAGES: string[]
export function weighted<T extends { weight: number }>(list: T[], rand?: number): T
export function nextPage(from: string, rand?: () => number): Page
