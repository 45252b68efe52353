import { runBench } from '@dataplane/bench';
import { cdcCases } from './cdc.js';
import { outboxCases } from './outbox-relay.js';

await runBench('outbox', [...cdcCases, ...outboxCases]);
