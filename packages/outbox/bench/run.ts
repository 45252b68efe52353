import { runBench } from '@dataplane/bench';
import { cdcCases } from './cdc.js';

await runBench('outbox', [...cdcCases]);
