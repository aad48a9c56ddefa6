/**
 * Redis key and channel names of a cluster, decided here so that presence, the bus and the reaper
 * cannot drift apart. Every key starts with the cluster's `prefix` (default `ls:`; tests use one
 * per run). The keys of one site share the hash tag `{site}`.
 */

/** Keys of one site. */
export interface SiteKeys {
  /** HASH cid → JSON `{ n: node, v: visitor, p: path, s: state 1-4, k: key }`. */
  tabs: string
  /** HASH visitor → tabs per state `w,r,i,h`. */
  vis: string
  /** HASH `t` (total), `1`..`4` (writing, reading, idle, hidden): visitors by most active state. */
  cnt: string
  /** HASH `path\0visitor` → tabs per state on that page. */
  pvis: string
  /** HASH `path\0t`, `path\01`..`path\04`: per-page counters. */
  pcnt: string
  /** The site's change counter (INCR once per published change). */
  seq: string
  /** Prefix of a node's SET of its cids on this site: `index + node`. */
  index: string
}

export function siteKeys(prefix: string, site: string): SiteKeys {
  const k = `${prefix}{${site}}:`
  return { tabs: `${k}tabs`, vis: `${k}vis`, cnt: `${k}cnt`, pvis: `${k}pvis`, pcnt: `${k}pcnt`, seq: `${k}seq`, index: `${k}node:` }
}

/** Cluster-wide keys. */
export function clusterKeys(prefix: string): { sites: string; nodes: string; lease: string; nodeSites: string; procs: string } {
  return {
    /** SET of sites with at least one tab. */
    sites: `${prefix}sites`,
    /** ZSET node → registration time, ms: every incarnation not yet swept. */
    nodes: `${prefix}nodes`,
    /** Prefix of a node's lease (`lease + node`, a string with a PX expiry). */
    lease: `${prefix}lease:`,
    /** Prefix of a node's SET of the sites it has tabs on (`nodeSites + node`). */
    nodeSites: `${prefix}node-sites:`,
    /** HASH process key → JSON `{ n: node, v: ProcessView }`: the processes connected to each node. */
    procs: `${prefix}procs`,
  }
}

/** The Redis pub/sub channel of a bus channel (`channels.site(…)`, `processes`, `sites`). */
export function busChannel(prefix: string, channel: string): string {
  return `${prefix}ch:${channel}`
}

/** The sequence key behind a bus channel: a site channel's change counter, or null for others. */
export function seqKeyOf(prefix: string, channel: string): string | null {
  return channel.startsWith('site:') ? siteKeys(prefix, channel.slice('site:'.length)).seq : null
}
