import { runBench } from '@dataplane/bench';
import { shardsScaling } from './shards-scaling.js';
import { shardsCodel } from './shards-codel.js';
import { logIngestRedis, logIngestNats } from './log-ingest.js';
import { kvPutSequential, kvPutRandom, kvMemtableGc } from './kv-engine.js';
import { tsdbTsbsInteger, tsdbTsbsDecimal } from './tsdb-tsbs.js';

await runBench('lsm', [kvPutSequential, kvPutRandom, kvMemtableGc, shardsScaling, shardsCodel, logIngestRedis, logIngestNats, tsdbTsbsInteger, tsdbTsbsDecimal]);
