// The options table as the one source of defaults: withDefaults, help and the protocol's own limits agree with it.

import { describe, expect, it } from 'vitest';
import { OPTIONS, helpText, resolveOptions } from '../../../src/config/options.js';
import { DEFAULT_CONNECTION_OPTIONS } from '../../../src/protocol/fcgi/connection.js';

describe('the options table', () => {
  it('gives every option a default as data, or says how the default is computed, or that there is none', () => {
    for (const o of OPTIONS) {
      const resolved = resolveOptions({ socket: '/tmp/x.sock' })[o.name];
      if (o.default !== undefined) expect([o.name, resolved]).toEqual([o.name, o.default]);
      else if (o.defaultText === undefined) expect([o.name, resolved]).toEqual([o.name, o.name === 'socket' ? '/tmp/x.sock' : undefined]);
    }
  });

  it('shows each data default in the help text', () => {
    const help = helpText();
    for (const o of OPTIONS.filter((o) => o.default !== undefined)) {
      const row = help.slice(help.indexOf(`  ${o.name}=`));
      expect(row.split('\n')[1]!.trim()).toBe(`default: ${String(o.default)}`);
    }
  });

  it('has the FastCGI connection limits the protocol uses when run on its own', () => {
    const fromTable = (name: string) => OPTIONS.find((o) => o.name === name)!.default;
    // maxconns= is computed from the open-files limit (withDefaults); the protocol on its own keeps a fixed one.
    const { maxConns: _computed, ...fixed } = DEFAULT_CONNECTION_OPTIONS;
    expect({
      maxReqs: fromTable('maxreqs'),
      maxParamsBytes: fromTable('maxparamsbytes'),
      maxParams: fromTable('maxparams'),
    }).toEqual(fixed);
  });
});
