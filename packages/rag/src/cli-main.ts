import { RagError } from './errors.js';
import type { CliCommand, CliIo } from './eval/cli-eval.js';

/**
 * Runs the CLI with a command table: `argv[0]` selects the command.
 *
 * @internal
 */
export async function runCli(commands: Record<string, CliCommand>, argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  const help = (): void => {
    io.out('usage: rag <command> [options]\n');
    for (const [n, c] of Object.entries(commands)) io.out(`  ${n.padEnd(8)} ${c.summary}`);
  };
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    help();
    return name === undefined ? 2 : 0;
  }
  const cmd = commands[name];
  if (cmd === undefined) {
    io.err(`unknown command "${name}"\n`);
    help();
    return 2;
  }
  try {
    return await cmd.run(rest, io);
  } catch (err) {
    io.err(`${RagError.is(err) ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
