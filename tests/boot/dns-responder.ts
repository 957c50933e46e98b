/**
 * A tiny authoritative DNS server for tests: answers A queries for the names it is given (RFC 1035
 * §4.1: header, question, answer RR), NXDOMAIN for the rest, and counts the queries it saw.
 */
import { createSocket, type Socket } from "node:dgram";

/** Where the answer's name is: a compression pointer to the question's name at offset 12 (RFC 1035 §4.1.4). */
const NAME_AT_12 = [0xc0, 0x0c];

export class DnsResponder {
  queries = 0;
  private constructor(
    private readonly sock: Socket,
    readonly names: ReadonlyMap<string, string>,
  ) {}

  /** Listen on addr:port (UDP). Rejects (EACCES, EADDRINUSE) when that cannot be had. */
  static async listen(addr: string, port: number, names: Record<string, string>): Promise<DnsResponder> {
    const sock = createSocket("udp4");
    const r = new DnsResponder(sock, new Map(Object.entries(names).map(([k, v]) => [k.toLowerCase(), v])));
    await new Promise<void>((resolve, reject) => {
      sock.once("error", reject);
      sock.bind(port, addr, () => {
        sock.off("error", reject);
        resolve();
      });
    });
    sock.on("message", (m, from) => {
      const reply = r.answer(m);
      if (reply) sock.send(reply, from.port, from.address);
    });
    return r;
  }

  /** The reply to one query, or null for something that is not a one-question query. */
  private answer(m: Buffer): Buffer | null {
    if (m.length < 12 || m[2] & 0x80 || m.readUInt16BE(4) !== 1) return null;
    this.queries++;
    const labels: string[] = [];
    let o = 12;
    while (o < m.length && m[o] !== 0) {
      if (m[o] > 63 || o + 1 + m[o] > m.length) return null;
      labels.push(m.toString("latin1", o + 1, o + 1 + m[o]));
      o += 1 + m[o];
    }
    if (o + 5 > m.length) return null;
    const qtype = m.readUInt16BE(o + 1);
    const end = o + 5;
    const addr = this.names.get(labels.join(".").toLowerCase());
    const head = Buffer.from(m.subarray(0, end));
    // QR, opcode 0, AA, RD copied, RA; rcode 0 (found) or 3 (NXDOMAIN).
    head[2] = 0x84 | (m[2] & 0x01);
    head[3] = 0x80 | (addr === undefined ? 3 : 0);
    const a = addr !== undefined && qtype === 1;
    head.writeUInt16BE(a ? 1 : 0, 6);
    head.writeUInt16BE(0, 8);
    head.writeUInt16BE(0, 10);
    if (!a) return head;
    const rr = Buffer.from([...NAME_AT_12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...addr.split(".").map(Number)]);
    return Buffer.concat([head, rr]);
  }

  close(): void {
    this.sock.close();
  }
}
