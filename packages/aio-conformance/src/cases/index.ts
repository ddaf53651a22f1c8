import type { ConformanceCase } from '../case.js';
import { argumentCases } from './arguments.js';
import { backpressureCases } from './backpressure.js';
import { cancelCases } from './cancel.js';
import { controlCases } from './control.js';
import { directIoCases } from './direct-io.js';
import { directoryEntryCases } from './directory-entries.js';
import { exhaustionCases } from './exhaustion.js';
import { formCases } from './forms.js';
import { gcRaceCases } from './gc-races.js';
import { hostileInputCases } from './hostile-input.js';
import { lifecycleCases } from './lifecycle.js';
import { linkedCases } from './linked.js';
import { openCloseCases } from './open-close.js';
import { pollCases } from './poll.js';
import { readWriteCases } from './read-write.js';
import { registrationCases } from './registration.js';
import { sendfileCases } from './sendfile.js';
import { socketCases } from './sockets.js';
import { statCases } from './stat.js';
import { streamFileCases } from './stream-files.js';
import { streamIteratorCases } from './stream-iterators.js';
import { streamServerCases } from './stream-servers.js';
import { streamSocketCases } from './stream-sockets.js';
import { syncTruncateCases } from './sync-truncate.js';
import { udpCases } from './udp.js';
import { vectoredCases } from './vectored.js';
import { workerCases } from './workers.js';

/** Every case, in the order the runners execute them. */
export const cases: readonly ConformanceCase[] = [
  ...openCloseCases,
  ...readWriteCases,
  ...vectoredCases,
  ...directIoCases,
  ...syncTruncateCases,
  ...statCases,
  ...directoryEntryCases,
  ...controlCases,
  ...cancelCases,
  ...linkedCases,
  ...backpressureCases,
  ...lifecycleCases,
  ...formCases,
  ...argumentCases,
  ...workerCases,
  ...registrationCases,
  ...streamIteratorCases,
  ...socketCases,
  ...sendfileCases,
  ...udpCases,
  ...pollCases,
  ...hostileInputCases,
  ...exhaustionCases,
  ...gcRaceCases,
  ...streamSocketCases,
  ...streamServerCases,
  ...streamFileCases,
];
