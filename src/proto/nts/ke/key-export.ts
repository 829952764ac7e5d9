// TLS exporter inputs for the NTS C2S/S2C keys (RFC 8915 §4.3, §5.1;
// NTS.md §4). The daemon calls
//   socket.exportKeyingMaterial(aeadKeyLength(aead), NTS_KE_EXPORTER_LABEL,
//                               keyExportContext(protocol, contextAead, "c2s"))
// on the TLS socket of the exchange; this file only builds the inputs.

/** The exporter label every NTS-KE protocol uses (30 ASCII octets). */
export const NTS_KE_EXPORTER_LABEL = "EXPORTER-network-time-security";
/** ALPN protocol id of NTS-KE. */
export const NTS_KE_ALPN = "ntske/1";
/** IANA TCP port of NTS-KE ("ntske"). */
export const NTS_KE_PORT = 4460;

export type KeyDirection = "c2s" | "s2c";

/**
 * The 5-octet exporter context: protocol id (u16 BE), AEAD id (u16 BE), then
 * 0x00 for the client-to-server key or 0x01 for server-to-client.
 * Throws a RangeError for ids outside u16 (a caller bug).
 */
export function keyExportContext(
  protocol: number,
  aead: number,
  direction: KeyDirection,
): Uint8Array {
  for (const [what, v] of [
    ["protocol", protocol],
    ["aead", aead],
  ] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) {
      throw new RangeError(`${what} id ${v} is not a 16-bit unsigned integer`);
    }
  }
  return Uint8Array.of(
    protocol >>> 8,
    protocol & 0xff,
    aead >>> 8,
    aead & 0xff,
    direction === "c2s" ? 0 : 1,
  );
}

/** Key lengths of the IANA AEAD algorithms NTS may negotiate (NTS.md §9). */
const AEAD_KEY_LENGTHS: ReadonlyMap<number, number> = new Map([
  [1, 16], // AEAD_AES_128_GCM
  [2, 32], // AEAD_AES_256_GCM
  [3, 16], // AEAD_AES_128_CCM
  [4, 32], // AEAD_AES_256_CCM
  [15, 32], // AEAD_AES_SIV_CMAC_256
  [16, 48], // AEAD_AES_SIV_CMAC_384
  [17, 64], // AEAD_AES_SIV_CMAC_512
  [29, 32], // AEAD_CHACHA20_POLY1305
  [30, 16], // AEAD_AES_128_GCM_SIV
  [31, 32], // AEAD_AES_256_GCM_SIV
]);

/** Key length in octets (= exporter output length) of an AEAD id, or undefined. */
export function aeadKeyLength(aead: number): number | undefined {
  return AEAD_KEY_LENGTHS.get(aead);
}

/** AEAD_AES_128_GCM_SIV, the one algorithm with chrony's legacy exporter context. */
export const AEAD_AES_128_GCM_SIV = 30;
/** The AEAD id chrony's legacy context carries for AES-128-GCM-SIV keys. */
export const LEGACY_GCM_SIV_CONTEXT_AEAD = 15;

/**
 * The AEAD id to put into the exporter context for a negotiated `aead`.
 * Equal to `aead` except for chrony's AES-128-GCM-SIV quirk: unless both
 * sides exchanged record 1024 (Compliant AES-128-GCM-SIV Exporter Context),
 * keys for AEAD 30 are exported with the context of AEAD 15 (still 16 octets).
 */
export function exporterContextAead(aead: number, compliantGcmSivContext: boolean): number {
  return aead === AEAD_AES_128_GCM_SIV && !compliantGcmSivContext
    ? LEGACY_GCM_SIV_CONTEXT_AEAD
    : aead;
}
