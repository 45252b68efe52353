#!/usr/bin/env node
/**
 * `dataplane-outbox`: the operator tool of `@dataplane/outbox` (PostgreSQL inboxes only).
 *
 *   dataplane-outbox dead-letters list|show|drop|replay [options]
 *
 * Exit codes: 0 done, 1 failed (database, driver, letter not found), 2 bad usage.
 *
 * @packageDocumentation
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { OutboxError } from '../errors.js';
import { deadLetters, DEAD_LETTERS_USAGE, type CliIo } from './dead-letters.js';

const USAGE = `usage: dataplane-outbox <command> [options]\n\ncommands:\n${DEAD_LETTERS_USAGE}`;

/** @internal Runs the CLI; returns the exit code. */
export async function main(argv: readonly string[], io: CliIo, env: Readonly<Record<string, string | undefined>> = process.env): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    io.out(USAGE);
    return 0;
  }
  if (name !== 'dead-letters') {
    io.err(`dataplane-outbox: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  try {
    return await deadLetters(rest, io, env);
  } catch (err) {
    if (OutboxError.is(err, 'OUTBOX_INVALID_ARGUMENT')) {
      io.err(`dataplane-outbox ${name}: ${err.message.replace(/^\[@dataplane\/outbox\] /, '')}\nrun "dataplane-outbox --help" for the usage\n`);
      return 2;
    }
    const message = OutboxError.is(err) ? err.message.replace(/^\[@dataplane\/outbox\] /, '') : err instanceof Error ? err.message : String(err);
    io.err(`dataplane-outbox ${name}: ${message}\n`);
    return 1;
  }
}

function isMainModule(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMainModule()) {
  main(process.argv.slice(2), { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`dataplane-outbox: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
