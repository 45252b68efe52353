import { createMemoryLog } from '@dataplane/lsm';
import { logConformance } from './log-conformance.js';

logConformance('memory', async (partitions) => createMemoryLog({ partitions }));
