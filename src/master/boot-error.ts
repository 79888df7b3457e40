// The user-facing error for a worker that could not boot before any worker was up.

import type { Listener } from './listener/bind.js';
import { errnoReason, NO_ADDRESS_MESSAGE } from './listener/bind.js';
import { EXIT_RUNTIME, EXIT_USAGE, RunfcgiError } from '../shared/errors.js';

/** A worker's bootError message ("listen: EADDRINUSE", or the app's load error) as one line for the user. */
export function bootError(listener: Listener, exitCode: number, message: string): RunfcgiError {
  const listen = /^listen: (\w+)$/.exec(message);
  if (listen) {
    if (listener.inherited && (listen[1] === 'EINVAL' || listen[1] === 'ENOTSOCK' || listen[1] === 'EOPNOTSUPP')) {
      return new RunfcgiError(NO_ADDRESS_MESSAGE, EXIT_USAGE);
    }
    return new RunfcgiError(`cannot listen on ${listener.address.replace(/^(tcp|unix):/, '')}: ${errnoReason(listen[1])}`, EXIT_RUNTIME);
  }
  return new RunfcgiError(message, exitCode);
}
