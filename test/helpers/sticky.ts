// A client with a cookie jar, as a browser is one, for apps that keep state per session.

/** Cookies by name, from every Set-Cookie seen; sent back on each request. */
export class Jar {
  readonly cookies = new Map<string, string>();

  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
  }

  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const res = await fetch(url, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), cookie: this.header() } });
    this.take(res);
    return res;
  }
}

export interface Round {
  statuses: number[];
  workers: string[];
}

/** `rounds` x `parallel` GET `path` with the jar's cookies: each answer's status and the worker that gave it. */
export async function parallelRounds(jar: Jar, url: string, rounds: number, parallel: number, init: RequestInit = {}): Promise<Round> {
  const out: Round = { statuses: [], workers: [] };
  for (let r = 0; r < rounds; r++) {
    const answers = await Promise.all(Array.from({ length: parallel }, async () => {
      const res = await fetch(url, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), cookie: jar.header() } });
      const text = await res.text();
      return { status: res.status, worker: res.status === 200 || res.status === 401 ? workerOf(text) : '?' };
    }));
    for (const a of answers) {
      out.statuses.push(a.status);
      out.workers.push(a.worker);
    }
  }
  return out;
}

function workerOf(text: string): string {
  try {
    return (JSON.parse(text) as { worker?: string }).worker ?? '?';
  } catch {
    return '?';
  }
}
