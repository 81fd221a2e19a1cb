import { Resolver } from 'node:dns/promises';

export type TxtLookup = { ok: true; records: string[][] } | { ok: false; reason: 'not-found' | 'timeout' | 'error'; detail: string };

/**
 * TXT lookups through the configured DNS servers (host:port), or the system's resolvers. Each query
 * gets one try and a hard deadline, so a dead server fails the check instead of hanging it.
 */
export class DnsTxtResolver {
  constructor(private readonly options: { servers?: string[]; timeoutMs: number }) {}

  async lookup(name: string): Promise<TxtLookup> {
    const resolver = new Resolver({ timeout: this.options.timeoutMs, tries: 1 });
    if (this.options.servers?.length) resolver.setServers(this.options.servers);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<TxtLookup>((resolve) => {
      timer = setTimeout(() => {
        resolver.cancel();
        resolve({ ok: false, reason: 'timeout', detail: `no answer within ${this.options.timeoutMs} ms` });
      }, this.options.timeoutMs + 100);
    });
    const query = resolver.resolveTxt(name).then(
      (records): TxtLookup => ({ ok: true, records }),
      (err: NodeJS.ErrnoException): TxtLookup => {
        if (err.code === 'ENOTFOUND' || err.code === 'ENODATA') return { ok: false, reason: 'not-found', detail: `no TXT record at ${name}` };
        if (err.code === 'ETIMEOUT' || err.code === 'ECANCELLED') return { ok: false, reason: 'timeout', detail: `no answer within ${this.options.timeoutMs} ms` };
        return { ok: false, reason: 'error', detail: `DNS lookup failed (${err.code ?? 'unknown error'})` };
      },
    );
    try {
      return await Promise.race([query, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }
}
