/**
 * Environment variables are declared once (util/env.ts): no other module reads process.env.RBD_*,
 * the README lists every variable and RBD_DEBUG switch, and rbd reports names it does not read.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { VARIABLES, DEBUG_SWITCHES, checkEnvironment, debug, env } from '../../util/env.ts';

const root = join(dirname(new URL(import.meta.url).pathname), '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (name === 'node_modules' || name.startsWith('.')) return [];
    return statSync(p).isDirectory() ? sources(p) : /\.(ts|mjs|js|sh)$/.test(name) ? [p] : [];
  });
}

/** Reads of process.env.RBD_* (setting one, for a child process or a test, is not a read). */
export function rbdReads(text: string): string[] {
  return [...text.matchAll(/(delete\s+)?process\.env(?:\.(RBD_\w+)|\[\s*['"](RBD_\w+)['"]\s*\])(\s*=(?!=))?/g)]
    .filter((m) => !m[1] && !m[4])
    .map((m) => m[2] ?? m[3]);
}

test('only util/env.ts reads RBD_* variables', () => {
  assert.equal(rbdReads(`const a = process.env.RBD_X; if (process.env['RBD_Y'] === '1') {}`), ['RBD_X', 'RBD_Y']);
  assert.equal(rbdReads(`process.env.RBD_CACHE = dir; delete process.env.RBD_DEBUG; process.env['RBD_Z'] = '1';`), []);
  const readers = sources(root)
    // util/env.ts is the reader; this file holds the examples above.
    .filter(
      (f) =>
        ![join('util', 'env.ts'), join('test', 'util', 'env.test.ts')].includes(relative(root, f)) && !relative(root, f).startsWith('dist'),
    )
    .filter((f) => rbdReads(readFileSync(f, 'utf8')).length > 0)
    .map((f) => relative(root, f));
  assert.equal(readers, []);
});

test('the README lists every variable and every RBD_DEBUG switch', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  for (const name of Object.keys(VARIABLES)) assert.ok(readme.includes(`| \`${name}\` |`), `README table row for ${name}`);
  for (const s of Object.keys(DEBUG_SWITCHES)) assert.ok(readme.includes(`\`${s}\``), `README mentions RBD_DEBUG switch ${s}`);
});

test('checkEnvironment names unknown RBD_* variables and RBD_DEBUG switches, and nothing else', () => {
  assert.equal(checkEnvironment({ RBD_ADAPTER: 'gl', RBD_DEBUG: 'sync, stack', HOME: '/root' }), []);
  const problems = checkEnvironment({ RBD_ADAPTR: 'gl', RBD_DEBUG: 'sync,stak' });
  assert.is(problems.length, 2);
  assert.match(problems[0], /^RBD_ADAPTR is not a variable rbd reads \(it reads RBD_ADAPTER, /);
  assert.match(problems[1], /^RBD_DEBUG switch 'stak' is unknown \(known: sync, wgsl, dispatch, stack, dawn\)/);
});

test('debug() and env read the variables when asked (not once at load)', () => {
  const saved = { ...process.env };
  try {
    process.env.RBD_DEBUG = 'wgsl, dawn';
    assert.ok(debug('dawn') && debug('wgsl') && !debug('sync'));
    delete process.env.RBD_DEBUG;
    assert.not.ok(debug('dawn'));
    process.env.RBD_ADAPTER = '';
    assert.is(env.adapter(), 'auto', 'empty counts as unset');
    process.env.RBD_CACHE = '/tmp/x';
    assert.is(env.cacheDir(), '/tmp/x');
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
});

test.run();
