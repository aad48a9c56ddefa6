/** Picks the Store implementation from the configured store URL, once, at hub construction. */
import { LivestatsError } from '../../protocol/errors'
import { createPostgresStore } from './postgres'
import { createSqliteWorkerStore } from './sqlite-worker'
import type { Store } from './types'

export function openStore(url: string): Store {
  if (url.startsWith('sqlite:')) return createSqliteWorkerStore(url.slice('sqlite:'.length))
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return createPostgresStore(url)
  throw new LivestatsError('LS_ERR_CONFIG', `No store for "${url.split(':', 1)[0]}:"; use sqlite:PATH or postgres://HOST/DB`)
}
