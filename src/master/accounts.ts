// Users and groups by name or id, from /etc/passwd and /etc/group (Node has no getpwnam).

import fs from 'node:fs';
import { UsageError } from '../shared/errors.js';

export interface Account {
  uid: number;
  gid: number;
  name: string;
  home: string;
}

function table(file: string): string[][] {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
  } catch {
    return [];
  }
}

export function lookupUser(user: string): Account {
  const row = table('/etc/passwd').find((f) => f[0] === user || (/^\d+$/.test(user) && f[2] === user));
  if (row !== undefined) return { name: row[0]!, uid: Number(row[2]), gid: Number(row[3]), home: row[5] ?? '/' };
  if (/^\d+$/.test(user)) return { name: user, uid: Number(user), gid: Number(user), home: '/' };
  throw new UsageError(`user=${user}: no such user (see /etc/passwd)`);
}

export function lookupGroup(group: string, option = 'group'): number {
  if (/^\d+$/.test(group)) return Number(group);
  const row = table('/etc/group').find((f) => f[0] === group);
  if (row === undefined) throw new UsageError(`${option}=${group}: no such group (see /etc/group)`);
  return Number(row[2]);
}

export const isRoot = (): boolean => process.getuid?.() === 0;
