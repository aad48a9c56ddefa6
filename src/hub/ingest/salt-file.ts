/**
 * Where the daily visitor salts live: a key file next to the database, mode 0600, never the store.
 * A salt kept in the database beside the hashes it made (and the masked IPs the store used to keep)
 * gave raw IPs back for 256 guesses per user agent (issue 10 item 5); a database file that is
 * copied, backed up or leaked now holds hashes without their key.
 *
 * The file is small JSON (`{ "salts": { "2026-01-12": "<64 hex>" } }`), rewritten whole through a
 * temporary file and a rename, so a crash leaves the old salts or the new ones, never half a file.
 */
import { chmod, open, readFile, rename, stat } from 'node:fs/promises'
import { LivestatsError } from '../../protocol/errors'

/** Salts by UTC day (`YYYY-MM-DD` → 64 hex digits). */
export type Salts = Map<string, string>

/** Keeps the salts between restarts. */
export interface SaltKeeper {
  /** Where they are kept, for messages: a path, or `memory`. */
  readonly where: string
  load(): Promise<Salts>
  /** Replaces every kept salt with `salts`. */
  save(salts: Salts): Promise<void>
}

const DAY_KEY = /^\d{4}-\d{2}-\d{2}$/
const SALT = /^[0-9a-f]{64}$/
/** Only the owner may read or write the key file. */
export const KEY_FILE_MODE = 0o600

function corrupt(path: string, why: string): never {
  throw new LivestatsError('LS_ERR_CONFIG', `The visitor key file ${path} ${why}. Move it away to start with new salts ` +
    `(visitors of today and yesterday are then counted again once).`)
}

function parse(path: string, text: string): Salts {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    corrupt(path, 'is not JSON')
  }
  const salts = (doc as { salts?: unknown } | null)?.salts
  if (typeof salts !== 'object' || salts === null || Array.isArray(salts)) corrupt(path, 'holds no "salts" object')
  const out: Salts = new Map()
  for (const [day, hex] of Object.entries(salts)) {
    if (!DAY_KEY.test(day) || typeof hex !== 'string' || !SALT.test(hex)) corrupt(path, `has a bad entry "${day}"`)
    out.set(day, hex)
  }
  return out
}

/**
 * The salts in a key file at `path` (created on first save). A file readable by others is
 * narrowed to 0600 when loaded.
 */
export function saltFile(path: string): SaltKeeper {
  return {
    where: path,
    async load(): Promise<Salts> {
      let text: string
      try {
        text = await readFile(path, 'utf8')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map()
        throw err
      }
      if (((await stat(path)).mode & 0o777) !== KEY_FILE_MODE) await chmod(path, KEY_FILE_MODE)
      return parse(path, text)
    },
    async save(salts: Salts): Promise<void> {
      const tmp = `${path}.tmp-${process.pid}`
      const f = await open(tmp, 'w', KEY_FILE_MODE)
      try {
        // open's mode applies only to a new file, and the umask may narrow it further: set it outright
        await f.chmod(KEY_FILE_MODE)
        await f.writeFile(`${JSON.stringify({ salts: Object.fromEntries(salts) })}\n`)
        await f.sync()
      } finally {
        await f.close()
      }
      await rename(tmp, path)
    },
  }
}

/** Salts in memory only: for a store that is itself in memory (`:memory:`), which a restart empties too. */
export function memorySalts(): SaltKeeper {
  let kept: Salts = new Map()
  return {
    where: 'memory',
    async load() {
      return new Map(kept)
    },
    async save(salts: Salts) {
      kept = new Map(salts)
    },
  }
}
