/**
 * The operator tool `dataplane-outbox dead-letters` against the machine's PostgreSQL, run as a user runs it: the built
 * CLI (`npm run build -w @dataplane/outbox` first) in a child process, on dead letters made by a real Consumer with a
 * PgInbox over MemoryTransport.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Consumer, MemoryTransport, createEvent, type OutboxEvent } from '@dataplane/outbox';
import { PgInbox, type PgQueryable } from '@dataplane/outbox/pg';

const PGURL = process.env.PGURL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CLI = resolve(import.meta.dirname, '../dist/cli/index.js');
const schema = `outbox_dlcli_${randomBytes(4).toString('hex')}`;
const pool = new pg.Pool({ connectionString: PGURL, max: 6 });

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI with node; never rejects. */
function cli(args: string[], env: Record<string, string | undefined> = { PGURL }): Promise<Run> {
  return new Promise((done) => {
    const childEnv: Record<string, string> = { PATH: process.env.PATH ?? '' };
    for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v;
    execFile(process.execPath, [CLI, ...args], { env: childEnv, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1;
      done({ code, stdout, stderr });
    });
  });
}

/** Runs the CLI with `--json` and parses stdout; fails the test on a non-zero exit. */
async function cliJson<T>(args: string[]): Promise<T> {
  const r = await cli([...args, '--schema', schema, '--json']);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout) as T;
}

interface Listed {
  consumer: string;
  eventId: string;
  aggregateId: string;
  type: string;
  attempts: number;
  error: string;
  failedAt: string;
  replayRequestedAt: string | null;
  event?: OutboxEvent;
}

async function until(cond: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  expect(existsSync(CLI), 'the CLI is not built: npm run build -w @dataplane/outbox').toBe(true);
  await pool.query(`create schema ${schema}`);
});
afterAll(async () => {
  await pool.query(`drop schema if exists ${schema} cascade`);
  await pool.end();
});

const ev = (aggregateId: string, n: number, fail: boolean): OutboxEvent => createEvent({ aggregateType: 'acct', aggregateId, type: 'Step', payload: { n, fail } });

describe('dataplane-outbox dead-letters', () => {
  it('lists, shows and drops the dead letters a failing consumer made', async () => {
    const inbox = new PgInbox({ pool, schema, prefix: 'lsd' });
    await inbox.migrate();
    await inbox.migrate(); // idempotent, with the replay column
    const transport = new MemoryTransport();
    const consumer = new Consumer<PgQueryable>({
      name: 'lsd', transport, inbox, aggregateTypes: ['acct'], maxAttempts: 2, backoff: { initialMs: 1, maxMs: 2 }, deadLetterReplayIntervalMs: 0,
      handler: async (e) => {
        if ((e.payload as { fail: boolean }).fail) throw new Error(`boom ${(e.payload as { n: number }).n}`);
      },
    });
    await consumer.start();
    const events = [ev('a1', 1, true), ev('a2', 2, true), ev('a3', 3, false)];
    await transport.publish(events);
    await until(() => consumer.stats().deadLettered === 2 && consumer.stats().handled === 1);
    await consumer.close();
    const [e1, e2] = events as [OutboxEvent, OutboxEvent];

    const listed = await cliJson<Listed[]>(['dead-letters', 'list', '--prefix', 'lsd', '--consumer', 'lsd']);
    expect(listed.map((l) => l.eventId).sort()).toEqual([e1.id, e2.id].sort());
    for (const l of listed) {
      expect(l).toMatchObject({ consumer: 'lsd', type: 'Step', attempts: 2, replayRequestedAt: null });
      expect(l.error).toBe(l.eventId === e1.id ? 'boom 1' : 'boom 2');
    }
    // the other consumer's name finds nothing; no --consumer finds all; --limit cuts
    expect(await cliJson<Listed[]>(['dead-letters', 'list', '--prefix', 'lsd', '--consumer', 'other'])).toEqual([]);
    expect(await cliJson<Listed[]>(['dead-letters', 'list', '--prefix', 'lsd'])).toHaveLength(2);
    expect(await cliJson<Listed[]>(['dead-letters', 'list', '--prefix', 'lsd', '--limit', '1'])).toHaveLength(1);
    const human = await cli(['dead-letters', 'list', '--prefix', 'lsd', '--schema', schema]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(e1.id);
    expect(human.stdout).toContain('boom 1');

    const shown = await cliJson<Listed[]>(['dead-letters', 'show', '--prefix', 'lsd', '--id', e1.id]);
    expect(shown).toHaveLength(1);
    expect(shown[0]!.event).toEqual(e1);
    expect(shown[0]).toMatchObject({ consumer: 'lsd', attempts: 2, error: 'boom 1', aggregateId: 'a1' });
    const missing = await cli(['dead-letters', 'show', '--schema', schema, '--prefix', 'lsd', '--id', events[2]!.id]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no dead letter');

    expect(await cliJson<{ dropped: number }>(['dead-letters', 'drop', '--prefix', 'lsd', '--consumer', 'lsd', '--id', e1.id])).toEqual({ dropped: 1 });
    expect((await cliJson<Listed[]>(['dead-letters', 'list', '--prefix', 'lsd'])).map((l) => l.eventId)).toEqual([e2.id]);
    expect(await cliJson<{ dropped: number }>(['dead-letters', 'drop', '--prefix', 'lsd', '--consumer', 'lsd', '--all'])).toEqual({ dropped: 1 });
    expect(await cliJson<Listed[]>(['dead-letters', 'list', '--prefix', 'lsd'])).toEqual([]);
    expect((await inbox.listDeadLetters('lsd')).length).toBe(0);
  });

  it('replay: the running consumer applies requested letters once, in order, and removes them', async () => {
    const inbox = new PgInbox({ pool, schema, prefix: 'rpl' });
    await inbox.migrate();
    await pool.query(`create table ${schema}.rpl_effects (seq bigserial, event_id uuid primary key, agg text not null, n int not null, applied int not null default 1)`);
    let broken = true;
    const transport = new MemoryTransport();
    const consumer = new Consumer<PgQueryable>({
      name: 'rpl', transport, inbox, aggregateTypes: ['acct'], maxAttempts: 2, backoff: { initialMs: 1, maxMs: 2 }, deadLetterReplayIntervalMs: 50,
      handler: async (e, c) => {
        const p = e.payload as { n: number; fail: boolean };
        if (broken && p.fail) throw new Error(`broken ${p.n}`);
        await c.query(`insert into ${schema}.rpl_effects (event_id, agg, n) values ($1, $2, $3) on conflict (event_id) do update set applied = ${schema}.rpl_effects.applied + 1`, [e.id, e.aggregateId, p.n]);
      },
    });
    await consumer.start();
    const e1 = ev('r1', 1, true);
    const e2 = ev('r1', 2, true);
    const e3 = ev('r2', 3, true);
    const e4 = ev('r3', 4, false);
    await transport.publish([e1, e2, e3, e4]);
    await until(() => consumer.stats().deadLettered === 3 && consumer.stats().handled === 1);
    // a dead letter of an event that was handled after all (e.g. a redelivery succeeded): its replay is a duplicate
    await inbox.deadLetter('rpl', e4, 'stale', 1);

    // a replay that fails again clears its request (no loop every interval) and records the new error and attempt
    expect(await cliJson<{ requested: number }>(['dead-letters', 'replay', '--prefix', 'rpl', '--consumer', 'rpl', '--id', e3.id])).toEqual({ requested: 1 });
    await until(async () => {
      const l = (await cliJson<Listed[]>(['dead-letters', 'show', '--prefix', 'rpl', '--id', e3.id]))[0]!;
      return l.attempts === 3 && l.replayRequestedAt === null;
    });
    expect(consumer.stats().deadLettersReplayed).toBe(0);
    expect((await pool.query(`select count(*)::int as n from ${schema}.rpl_effects`)).rows[0]!.n).toBe(1);

    broken = false; // the fix is deployed
    expect(await cliJson<{ requested: number }>(['dead-letters', 'replay', '--prefix', 'rpl', '--consumer', 'rpl', '--all'])).toEqual({ requested: 4 });
    await until(async () => (await cliJson<Listed[]>(['dead-letters', 'list', '--prefix', 'rpl'])).length === 0);
    expect(consumer.stats().deadLettersReplayed).toBe(4);
    const effects = (await pool.query(`select event_id, agg, n, applied from ${schema}.rpl_effects order by seq`)).rows;
    expect(effects.map((r) => r.applied)).toEqual([1, 1, 1, 1]);
    expect(effects.map((r) => r.n).sort()).toEqual([1, 2, 3, 4]);
    // one aggregate's letters in order
    expect(effects.filter((r) => r.agg === 'r1').map((r) => r.n)).toEqual([1, 2]);
    // nothing is requested any more: a later round applies nothing twice
    await new Promise((r) => setTimeout(r, 200));
    expect(consumer.stats().deadLettersReplayed).toBe(4);
    await consumer.close();
  });

  it('replay: when a letter fails again, the later letters of its aggregate are not applied out of order', async () => {
    const inbox = new PgInbox({ pool, schema, prefix: 'ord' });
    await inbox.migrate();
    await pool.query(`create table ${schema}.ord_effects (seq bigserial primary key, n int not null)`);
    // effects go to the inbox's transaction: exactly once, even when the inbox runs an effect again after a group failed
    const applied = async (): Promise<number[]> => (await pool.query(`select n from ${schema}.ord_effects order by seq`)).rows.map((r) => r.n as number);
    const failing = new Set<string>();
    const transport = new MemoryTransport();
    const consumer = new Consumer<PgQueryable>({
      name: 'ord', transport, inbox, aggregateTypes: ['acct'], maxAttempts: 1, deadLetterReplayIntervalMs: 50,
      handler: async (e, c) => {
        if (failing.has(e.id)) throw new Error('still broken');
        await c.query(`insert into ${schema}.ord_effects (n) values ($1)`, [(e.payload as { n: number }).n]);
      },
    });
    await consumer.start();
    const e1 = ev('s1', 1, true);
    const e2 = ev('s1', 2, true);
    const e3 = ev('s2', 3, true);
    for (const e of [e1, e2, e3]) failing.add(e.id);
    await transport.publish([e1, e2, e3]);
    await until(() => consumer.stats().deadLettered === 3);
    failing.delete(e2.id); // e2 and e3 are fixed, e1 is not
    failing.delete(e3.id);
    expect(await cliJson<{ requested: number }>(['dead-letters', 'replay', '--prefix', 'ord', '--consumer', 'ord', '--all'])).toEqual({ requested: 3 });
    await until(async () => (await cliJson<Listed[]>(['dead-letters', 'list', '--prefix', 'ord'])).every((l) => l.replayRequestedAt === null));
    const left = await cliJson<Listed[]>(['dead-letters', 'list', '--prefix', 'ord']);
    expect(left.map((l) => [l.eventId, l.attempts])).toEqual([[e1.id, 2], [e2.id, 1]]);
    expect(await applied()).toEqual([3]); // e2 waits for e1; the other aggregate went on
    failing.clear();
    expect(await cliJson<{ requested: number }>(['dead-letters', 'replay', '--prefix', 'ord', '--consumer', 'ord', '--all'])).toEqual({ requested: 2 });
    await until(async () => (await cliJson<Listed[]>(['dead-letters', 'list', '--prefix', 'ord'])).length === 0);
    expect(await applied()).toEqual([3, 1, 2]);
    expect(consumer.stats().deadLettersReplayed).toBe(3);
    await consumer.close();
  });

  it('a consumer with deadLetterReplayIntervalMs 0 leaves requests alone', async () => {
    const inbox = new PgInbox({ pool, schema, prefix: 'off' });
    await inbox.migrate();
    const transport = new MemoryTransport();
    let broken = true;
    let applied = 0;
    const consumer = new Consumer<PgQueryable>({
      name: 'off', transport, inbox, aggregateTypes: ['acct'], maxAttempts: 1, deadLetterReplayIntervalMs: 0,
      handler: async () => {
        if (broken) throw new Error('broken');
        applied++;
      },
    });
    await consumer.start();
    const e = ev('o1', 1, true);
    await transport.publish([e]);
    await until(() => consumer.stats().deadLettered === 1);
    broken = false;
    expect(await cliJson<{ requested: number }>(['dead-letters', 'replay', '--prefix', 'off', '--consumer', 'off', '--all'])).toEqual({ requested: 1 });
    await new Promise((r) => setTimeout(r, 300));
    expect(applied).toBe(0);
    expect(consumer.stats().deadLettersReplayed).toBe(0);
    expect((await inbox.listDeadLetters('off'))[0]!.replayRequestedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    // the in-process replay still works and counts
    expect(await consumer.replayDeadLetters()).toEqual({ replayed: 1, failed: 0 });
    expect(applied).toBe(1);
    expect(consumer.stats().deadLettersReplayed).toBe(1);
    await consumer.close();
  });

  it.each([
    ['an unknown command', ['nope'], 'unknown command'],
    ['an unknown sub-command', ['dead-letters', 'purge'], 'unknown sub-command'],
    ['an unknown flag', ['dead-letters', 'list', '--bogus'], "Unknown option '--bogus'"],
    ['a bad id', ['dead-letters', 'show', '--id', 'not-a-uuid'], '--id must be an event id'],
    ['a bad limit', ['dead-letters', 'list', '--limit', 'ten'], '--limit must be'],
    ['a bad prefix', ['dead-letters', 'list', '--prefix', 'Bad;drop'], 'lower-case identifiers'],
    ['replay without --consumer', ['dead-letters', 'replay', '--all'], 'replay needs --consumer'],
    ['drop with both --id and --all', ['dead-letters', 'drop', '--consumer', 'c', '--all', '--id', '018f3a2e-7c41-7b8e-9d2a-3f1c5e6a7b80'], 'exactly one of --id and --all'],
  ])('%s exits 2 with a message and no stack trace', async (_, args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
  });

  it('a missing --url and $PGURL exits 2', async () => {
    const r = await cli(['dead-letters', 'list'], {});
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('missing --url');
  });

  it('without the pg driver installed, exits 1 and says what to install', async () => {
    // the built package alone, in a folder with no node_modules above it
    const dir = mkdtempSync(join(tmpdir(), 'dataplane-outbox-nopg-'));
    try {
      cpSync(resolve(import.meta.dirname, '../dist'), join(dir, 'dist'), { recursive: true });
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'x', type: 'module' }));
      const r = await new Promise<Run>((done) => {
        execFile(process.execPath, [join(dir, 'dist/cli/index.js'), 'dead-letters', 'list', '--url', PGURL], { encoding: 'utf8' }, (err, stdout, stderr) => {
          done({ code: err === null ? 0 : ((err as { code?: number }).code ?? -1), stdout, stderr });
        });
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('npm install pg');
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an unreachable database or a wrong prefix exits 1 with a message', async () => {
    const down = await cli(['dead-letters', 'list', '--url', 'postgres://postgres@127.0.0.1:1/test']);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('cannot connect to PostgreSQL');
    const wrong = await cli(['dead-letters', 'list', '--schema', schema, '--prefix', 'nosuch']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`no table ${schema}.nosuch_dead_letters`);
    expect(wrong.stderr).not.toMatch(/\n\s+at /);
  });
});
