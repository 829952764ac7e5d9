// The few DNS messages (RFC 1035) the NTS SRV discovery needs: a query for
// SRV, A or AAAA records with the AD bit set (RFC 6840 §5.7: "tell me whether
// you validated"), and the parts of the answer we use: the flags (AD = the
// resolver validated every record with DNSSEC), the response code and the
// SRV/A/AAAA answers. Node's resolver (c-ares) hides the AD bit, which is why
// ntpd-ts speaks DNS itself here; see docs/nts-pool.md.
//
// The decoder is bounded: a message longer than 65535 octets, a name longer
// than 255 octets, a compression loop or a record running past the end is an
// error, never an exception or a hang.

export const DnsType = { A: 1, AAAA: 28, SRV: 33 } as const;
export type DnsQueryType = (typeof DnsType)[keyof typeof DnsType];

const CLASS_IN = 1;
const FLAG_QR = 0x8000;
const FLAG_TC = 0x0200;
const FLAG_RD = 0x0100;
const FLAG_AD = 0x0020;
const MAX_NAME_LENGTH = 255;
const MAX_LABEL_LENGTH = 63;
const MAX_POINTERS = 32;
/** The EDNS UDP payload size we announce (the DNS flag day 2020 value). */
export const EDNS_PAYLOAD = 1232;

export interface SrvAnswer {
  priority: number;
  weight: number;
  port: number;
  /** Lower case, without the trailing dot. */
  target: string;
}

export interface DnsResponse {
  id: number;
  /** The (first) question as the response repeats it: lower-case name, type. */
  question: { name: string; type: number } | null;
  /** RCODE: 0 no error, 2 server failure, 3 no such name, ... */
  rcode: number;
  /** The resolver says it validated the answer with DNSSEC (AD bit). */
  authenticData: boolean;
  truncated: boolean;
  srv: SrvAnswer[];
  /** A and AAAA answers as text. */
  addresses: string[];
}

export type DnsDecodeResult = { ok: true; value: DnsResponse } | { ok: false; error: string };

/** Lower case, no trailing dot: how names are compared here. */
export function normalizeDnsName(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

/** The name as labels; throws a RangeError for an empty label or one over 63 octets. */
function encodeName(name: string): number[] {
  const out: number[] = [];
  const normalized = normalizeDnsName(name);
  if (normalized !== "") {
    for (const label of normalized.split(".")) {
      const bytes = new TextEncoder().encode(label);
      if (bytes.length === 0 || bytes.length > MAX_LABEL_LENGTH) {
        throw new RangeError(`"${name}" is not a valid DNS name`);
      }
      out.push(bytes.length, ...bytes);
    }
  }
  out.push(0);
  if (out.length > MAX_NAME_LENGTH) throw new RangeError(`"${name}" is too long for DNS`);
  return out;
}

/** A recursive query (RD) with the AD bit set, one question. */
export function encodeDnsQuery(id: number, name: string, type: DnsQueryType): Uint8Array {
  const qname = encodeName(name);
  const out = new Uint8Array(12 + qname.length + 4 + 11);
  const view = new DataView(out.buffer);
  view.setUint16(0, id);
  view.setUint16(2, FLAG_RD | FLAG_AD);
  view.setUint16(4, 1); // QDCOUNT
  view.setUint16(10, 1); // ARCOUNT: the EDNS OPT record
  out.set(qname, 12);
  view.setUint16(12 + qname.length, type);
  view.setUint16(14 + qname.length, CLASS_IN);
  // EDNS(0) OPT (RFC 6891): root name, type 41, our UDP payload size in the
  // class field, so that a pool's list of SRV records is not truncated at 512.
  out.set([0, 0, 41, EDNS_PAYLOAD >> 8, EDNS_PAYLOAD & 0xff, 0, 0, 0, 0, 0, 0], 16 + qname.length);
  return out;
}

class Truncated extends Error {}

/** Reads a possibly compressed name at `offset`; returns it and the offset after it. */
function readName(message: Uint8Array, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let length = 0;
  let next = -1;
  let position = offset;
  for (let pointers = 0; ;) {
    const size = message[position];
    if (size === undefined) throw new Truncated("name runs past the end");
    if (size === 0) {
      if (next < 0) next = position + 1;
      break;
    }
    if ((size & 0xc0) === 0xc0) {
      const low = message[position + 1];
      if (low === undefined) throw new Truncated("name pointer runs past the end");
      if (++pointers > MAX_POINTERS) throw new Truncated("name compression loop");
      if (next < 0) next = position + 2;
      position = ((size & 0x3f) << 8) | low;
      continue;
    }
    if (size > MAX_LABEL_LENGTH) throw new Truncated("bad label length");
    const end = position + 1 + size;
    if (end > message.length) throw new Truncated("label runs past the end");
    length += size + 1;
    if (length > MAX_NAME_LENGTH) throw new Truncated("name too long");
    labels.push(new TextDecoder().decode(message.subarray(position + 1, end)));
    position = end;
  }
  return { name: labels.join(".").toLowerCase(), next };
}

function ipv6Text(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  // The longest run of zero groups becomes "::" (RFC 5952).
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLength) {
      best = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLength).join(":")}`;
}

/**
 * Decodes a response to the query with `id`: a message that is not a
 * response, has another id, or is malformed is an error.
 */
export function decodeDnsResponse(message: Uint8Array, id: number): DnsDecodeResult {
  if (message.length < 12) return { ok: false, error: "message shorter than a DNS header" };
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  const flags = view.getUint16(2);
  if (view.getUint16(0) !== id) return { ok: false, error: "answer to another query" };
  if ((flags & FLAG_QR) === 0) return { ok: false, error: "not a response" };
  const questions = view.getUint16(4);
  const answers = view.getUint16(6);
  const response: DnsResponse = {
    id,
    rcode: flags & 0x000f,
    authenticData: (flags & FLAG_AD) !== 0,
    truncated: (flags & FLAG_TC) !== 0,
    question: null,
    srv: [],
    addresses: [],
  };
  try {
    let offset = 12;
    for (let i = 0; i < questions; i++) {
      const q = readName(message, offset);
      if (q.next + 4 > message.length) throw new Truncated("question runs past the end");
      response.question ??= { name: q.name, type: view.getUint16(q.next) };
      offset = q.next + 4;
    }
    for (let i = 0; i < answers; i++) {
      offset = readName(message, offset).next;
      if (offset + 10 > message.length) throw new Truncated("record header runs past the end");
      const type = view.getUint16(offset);
      const klass = view.getUint16(offset + 2);
      const length = view.getUint16(offset + 8);
      const data = offset + 10;
      offset = data + length;
      if (offset > message.length) throw new Truncated("record data runs past the end");
      if (klass !== CLASS_IN) continue;
      if (type === DnsType.A && length === 4) {
        response.addresses.push(Array.from(message.subarray(data, data + 4)).join("."));
      } else if (type === DnsType.AAAA && length === 16) {
        response.addresses.push(ipv6Text(message.subarray(data, data + 16)));
      } else if (type === DnsType.SRV && length >= 7) {
        const target = readName(message, data + 6);
        if (target.next > offset) throw new Truncated("SRV target runs past its record");
        response.srv.push({
          priority: view.getUint16(data),
          weight: view.getUint16(data + 2),
          port: view.getUint16(data + 4),
          target: target.name,
        });
      }
    }
  } catch (error) {
    if (error instanceof Truncated) return { ok: false, error: `malformed: ${error.message}` };
    throw error;
  }
  return { ok: true, value: response };
}

/**
 * RFC 2782 order: by priority (lowest first); within a priority a weighted
 * random order, where an entry's chance to come next is its weight over the
 * sum of the weights left (weight 0 entries last, in random order). `random`
 * gives numbers in [0, 1).
 */
export function orderSrvAnswers(answers: readonly SrvAnswer[], random: () => number): SrvAnswer[] {
  const priorities = [...new Set(answers.map((a) => a.priority))].sort((a, b) => a - b);
  const out: SrvAnswer[] = [];
  for (const priority of priorities) {
    const left = answers.filter((a) => a.priority === priority);
    while (left.length > 0) {
      const total = left.reduce((sum, a) => sum + a.weight, 0);
      let index: number;
      if (total === 0) {
        index = Math.floor(random() * left.length);
      } else {
        let pick = random() * total;
        index = left.findIndex((a) => (pick -= a.weight) < 0 && a.weight > 0);
        if (index < 0) index = left.findLastIndex((a) => a.weight > 0);
      }
      out.push(...left.splice(index, 1));
    }
  }
  return out;
}
