// The framing of one observation or control-socket message as it is read: a u64
// big-endian length, then that many bytes of UTF-8 JSON. Pure (no socket), so
// the client's parse of what arrives can be tested and fuzzed on its own:
// push() the chunks as they arrive; a length over `maxBytes` is refused before
// the body is buffered.

export type ObservationFrameProgress =
  | { readonly status: "incomplete" }
  | { readonly status: "complete"; readonly text: string }
  | { readonly status: "error"; readonly message: string };

const LENGTH_OCTETS = 8;
const INCOMPLETE: ObservationFrameProgress = Object.freeze({ status: "incomplete" });

export class ObservationFrameReader {
  private readonly chunks: Uint8Array[] = [];
  private received = 0;
  private expected: number | null = null;
  private final: ObservationFrameProgress | null = null;

  constructor(private readonly maxBytes: number) {}

  push(chunk: Uint8Array): ObservationFrameProgress {
    if (this.final !== null) return this.final;
    this.chunks.push(chunk);
    this.received += chunk.length;
    if (this.expected === null && this.received >= LENGTH_OCTETS) {
      const all = this.joined();
      const length = Buffer.from(all.buffer, all.byteOffset, all.byteLength).readBigUInt64BE(0);
      if (length > BigInt(this.maxBytes)) {
        return this.finish({
          status: "error",
          message: `message too large: ${length} bytes (at most ${this.maxBytes})`,
        });
      }
      this.expected = Number(length);
    }
    if (this.expected !== null && this.received >= LENGTH_OCTETS + this.expected) {
      const all = this.joined();
      const body = all.subarray(LENGTH_OCTETS, LENGTH_OCTETS + this.expected);
      return this.finish({
        status: "complete",
        text: Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8"),
      });
    }
    return INCOMPLETE;
  }

  /** The stream closed: the result, or why the message is incomplete. */
  end(): ObservationFrameProgress {
    if (this.final !== null) return this.final;
    return this.finish({
      status: "error",
      message:
        this.expected === null
          ? `connection closed after ${this.received} bytes, before the message length`
          : `connection closed after ${this.received - LENGTH_OCTETS} of ${this.expected} bytes`,
    });
  }

  private joined(): Uint8Array {
    const all = Buffer.concat(this.chunks);
    this.chunks.length = 0;
    this.chunks.push(all);
    return all;
  }

  private finish(result: ObservationFrameProgress): ObservationFrameProgress {
    this.final = result;
    this.chunks.length = 0;
    return result;
  }
}
