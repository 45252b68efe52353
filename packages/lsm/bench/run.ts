import { runBench } from '@dataplane/bench';
import { shardsScaling } from './shards-scaling.js';
import { shardsCodel } from './shards-codel.js';
import { logIngestRedis, logIngestNats } from './log-ingest.js';

await runBench('lsm', [shardsScaling, shardsCodel, logIngestRedis, logIngestNats]);
