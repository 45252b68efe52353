#!/usr/bin/env node
import { runCli } from './cli-main.js';
import { askCommand } from './commands/ask.js';
import { indexCommand } from './commands/index.js';
import { evalCommand, type CliCommand } from './eval/cli-eval.js';

// The command table: one line per command.
const commands: Record<string, CliCommand> = {
  eval: evalCommand,
  index: indexCommand,
  ask: askCommand,
};

void runCli(commands, process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (text) => process.stderr.write(text),
  tty: process.stderr.isTTY,
}).then((code) => {
  process.exitCode = code;
});
