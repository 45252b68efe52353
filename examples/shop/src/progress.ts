/** A one-line progress display on a terminal (stderr), silent elsewhere. */
export function progress(label: string) {
  const tty = process.stderr.isTTY === true;
  let last = 0;
  return {
    update(done: number, total: number, extra = '') {
      if (!tty) return;
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      const pct = total > 0 ? Math.min(100, Math.floor((100 * done) / total)) : 0;
      const width = 28;
      const filled = Math.round((pct / 100) * width);
      process.stderr.write(`\r\x1b[2K${label} ${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${pct}% ${extra}`);
    },
    done() {
      if (tty) process.stderr.write('\n');
    },
  };
}
