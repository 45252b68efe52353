import { runBench } from '@dataplane/bench';
import { xdsPropagation } from './xds-propagation.js';
import { pickersPick } from './pickers-pick.js';

await runBench('balancer', [
  pickersPick,
  xdsPropagation,
]);
