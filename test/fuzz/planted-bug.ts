// A target with a bug behind a 3-octet magic, checked one octet at a time:
// random inputs hit it about once in 16 million, a coverage-guided search
// (which keeps an input as soon as it passes one more check) quickly.

export function plantedBug(input: Uint8Array): void {
  if (input[0] === 0x4e) {
    if (input[1] === 0x54) {
      if (input[2] === 0x50) {
        throw new Error("planted bug reached");
      }
    }
  }
}
