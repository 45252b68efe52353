import { parseArgs } from 'node:util';

export interface ShopArgs {
  mode: 'embedded' | 'real';
  /** Seconds of generated traffic. */
  duration: number;
  /** Orders per second the generator aims for. */
  rate: number;
  /** Dashboard port (0 = any free port). */
  port: number;
  /** Keep serving the dashboard after the traffic ends, until Ctrl-C. */
  keep: boolean;
}

/** Parses the demo's command line (`--mode embedded|real --duration 15 --rate 100 --port 0 --keep`). */
export function shopArgs(argv: string[]): ShopArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      mode: { type: 'string', default: process.env.SHOP_MODE ?? 'embedded' },
      duration: { type: 'string', default: '15' },
      rate: { type: 'string', default: '100' },
      port: { type: 'string', default: '0' },
      keep: { type: 'boolean', default: false },
    },
  });
  const mode = values.mode;
  if (mode !== 'embedded' && mode !== 'real') throw new Error(`--mode must be embedded or real, not ${mode}`);
  const num = (name: string, v: string | undefined, min: number, max: number) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number in ${min}..${max}`);
    return n;
  };
  return {
    mode,
    duration: num('duration', values.duration, 1, 3600),
    rate: num('rate', values.rate, 1, 5000),
    port: num('port', values.port, 0, 65535),
    keep: values.keep ?? false,
  };
}
