import { uuidText } from '../env/new-id.js';

const encoder = /* @__PURE__ */ new TextEncoder();

/** Namespace of durable-rx's name-based GUIDs (RFC 4122 §4.3, version 5): 5c1b0d2e-8f3a-4b6c-9d7e-2a4f6b8c0d1e. */
const NAMESPACE = /* @__PURE__ */ Uint8Array.of(
  0x5c, 0x1b, 0x0d, 0x2e, 0x8f, 0x3a, 0x4b, 0x6c, 0x9d, 0x7e, 0x2a, 0x4f, 0x6b, 0x8c, 0x0d, 0x1e,
);

/**
 * A name-based (version 5) UUID of `name`. The engine derives `ctx.newGuid()` from the instance id, the step's
 * time and a counter, so replays produce the same GUIDs. Synchronous (Web Crypto's digest is async), hence a small
 * SHA-1 here; it is used for naming, not for security.
 */
export function uuidV5(name: string): string {
  const nameBytes = encoder.encode(name);
  const data = new Uint8Array(NAMESPACE.length + nameBytes.length);
  data.set(NAMESPACE, 0);
  data.set(nameBytes, NAMESPACE.length);
  return uuidText(sha1(data), 0, 5);
}

/** SHA-1 (FIPS 180-4) of `bytes`. */
export function sha1(bytes: Uint8Array): Uint8Array {
  const padded = new Uint8Array((((bytes.length + 8) >> 6) + 1) * 64);
  padded.set(bytes);
  padded[bytes.length] = 0x80;
  const view = new DataView(padded.buffer);
  // The message length in bits, big-endian in the last 8 bytes (setUint32 keeps the low 32 bits of each half).
  view.setUint32(padded.length - 8, bytes.length / 2 ** 29);
  view.setUint32(padded.length - 4, bytes.length * 8);
  const h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
  const w: number[] = [];
  for (let offset = 0; offset < padded.length; offset += 64) {
    let [a, b, c, d, e] = h as [number, number, number, number, number];
    for (let i = 0; i < 80; i++) {
      w[i] = i < 16 ? view.getUint32(offset + i * 4) : rotl(w[i - 3]! ^ w[i - 8]! ^ w[i - 14]! ^ w[i - 16]!, 1);
      const f = (i < 20 ? (b & c) | (~b & d) : i < 40 || i > 59 ? b ^ c ^ d : (b & c) | (b & d) | (c & d)) + K[(i / 20) | 0]!;
      const t = (rotl(a, 5) + f + e + w[i]!) | 0;
      e = d; d = c; c = rotl(b, 30); b = a; a = t;
    }
    [a, b, c, d, e].forEach((x, i) => (h[i] = (h[i]! + x) | 0));
  }
  h.forEach((x, i) => view.setUint32(i * 4, x));
  return padded.slice(0, 20);
}

/** The round constants, 2^30 times the square roots of 2, 3, 5 and 10 (as int32: the sums wrap alike). */
const K = /* @__PURE__ */ [2, 3, 5, 10].map((n) => (Math.sqrt(n) * 2 ** 30) | 0);

function rotl(x: number, n: number): number {
  return (x << n) | (x >>> (32 - n));
}
