#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BalancerError } from './errors.js';
import type { CliCommand, CliIo } from './sim/cli-simulate.js';

/**
 * The command table of `npx @dataplane/balancer <command>`: each entry loads its module lazily.
 * Register a command with one line.
 */
const commands: Record<string, () => Promise<CliCommand>> = {
  simulate: async () => (await import('./sim/cli-simulate.js')).simulateCommand,
  'control-plane': async () => (await import('./control-plane/command.js')).controlPlaneCommand,
};

/** @internal Runs the CLI; returns the exit code. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || !(name in commands)) {
    const lines = ['usage: npx @dataplane/balancer <command> [options]', '', 'commands:'];
    for (const load of Object.values(commands)) {
      const c = await load();
      lines.push(`  ${c.usage}`, `      ${c.summary}`);
    }
    io.err(lines.join('\n') + '\n');
    return name === undefined || name === '--help' || name === '-h' ? 0 : 2;
  }
  try {
    const cmd = await commands[name]!();
    return await cmd.run(rest, io);
  } catch (err) {
    io.err(`${name}: ${BalancerError.is(err) ? err.message : String(err)}\n`);
    return BalancerError.is(err, 'BALANCER_INVALID_ARGUMENT') ? 2 : 1;
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

const isMain = isMainModule();
if (isMain) {
  main(process.argv.slice(2), {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
    isTty: process.stderr.isTTY === true,
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
