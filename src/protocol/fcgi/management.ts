// Management records (request id 0, spec 4): what the application tells the web server about itself.

import { decodeParams, encodeParams, encodeRecord } from './codec.js';
import { FCGI_GET_VALUES, FCGI_GET_VALUES_RESULT, FCGI_MAX_CONNS, FCGI_MAX_REQS, FCGI_MPXS_CONNS, FCGI_UNKNOWN_TYPE } from './constants.js';

export interface Capacity {
  /** FCGI_MAX_CONNS: connections this application accepts at once. */
  maxConns: number;
  /** FCGI_MAX_REQS: requests at once (per connection: we multiplex). */
  maxReqs: number;
}

/**
 * The answer to a management record: FCGI_GET_VALUES_RESULT with the values
 * asked for that we know (spec 4.1: the others are left out), or
 * FCGI_UNKNOWN_TYPE for any other type (spec 4.2).
 */
export function managementReply(type: number, content: Buffer, capacity: Capacity): Buffer {
  if (type !== FCGI_GET_VALUES) {
    const body = Buffer.alloc(8);
    body[0] = type;
    return encodeRecord(FCGI_UNKNOWN_TYPE, 0, body);
  }
  const known = new Map([
    [FCGI_MAX_CONNS, String(capacity.maxConns)],
    [FCGI_MAX_REQS, String(capacity.maxReqs)],
    [FCGI_MPXS_CONNS, '1'],
  ]);
  const answer: [string, string][] = [];
  for (const name of Object.keys(decodeParams(content))) {
    const value = known.get(name);
    if (value !== undefined) answer.push([name, value]);
  }
  return encodeRecord(FCGI_GET_VALUES_RESULT, 0, encodeParams(answer));
}
