import dns2 from 'dns2';

const { Packet } = dns2;

/**
 * A real DNS server on loopback (UDP), for domain-verification tests. `txt` maps a name to its TXT
 * records, each a list of character-strings; names in `silent` get no answer at all (a dead server).
 */
export class TestDnsServer {
  readonly txt = new Map<string, string[][]>();
  readonly silent = new Set<string>();
  queries = 0;
  private server = dns2.createServer({
    udp: true,
    handle: (request, send) => {
      this.queries++;
      const response = Packet.createResponseFromRequest(request);
      const question = request.questions[0];
      if (!question) return send(response);
      const name = question.name.toLowerCase();
      if (this.silent.has(name)) return; // never answers
      const records = this.txt.get(name);
      if (!records) {
        response.header.rcode = 3; // NXDOMAIN
        return send(response);
      }
      for (const data of records) {
        response.answers.push({ name: question.name, type: Packet.TYPE.TXT, class: Packet.CLASS.IN, ttl: 1, data } as never);
      }
      send(response);
    },
  });
  address = '';

  async start(): Promise<string> {
    await this.server.listen({ udp: { port: 0, address: '127.0.0.1' } });
    const { udp } = this.server.addresses() as { udp: { port: number } };
    this.address = `127.0.0.1:${udp.port}`;
    return this.address;
  }

  async stop(): Promise<void> {
    await this.server.close();
  }
}
