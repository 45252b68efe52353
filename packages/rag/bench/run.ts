import { runBench } from '@dataplane/bench';
import { hnswRecall } from './dense-hnsw.js';
import { bm25Cranfield } from './retrieval-bm25.js';
import { hybridCranfield } from './retrieval-hybrid.js';
import { pipelineAsk, pipelineRanking } from './pipeline-answer.js';

await runBench('rag', [bm25Cranfield, hybridCranfield, hnswRecall, pipelineRanking, pipelineAsk]);
