import { runBench } from '@dataplane/bench';
import { xdsPropagation } from './xds-propagation.js';

await runBench('balancer', [
  xdsPropagation,
]);
