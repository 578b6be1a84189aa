// MT19937 (Matsumoto & Nishimura 1998) as torch's CPU generator runs it: seeded from the low
// 32 bits of the seed with the 2002 init_genrand recurrence, tempered 32-bit outputs.

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;

export class Mt19937 {
  private readonly state = new Uint32Array(N);
  // Starts exhausted so the first draw regenerates the whole block, as torch's `left_ = 1` does.
  private index = N;

  /** `seedLow32` is the seed's low 32-bit word; torch drops the rest. */
  constructor(seedLow32: number) {
    const s = this.state;
    s[0] = seedLow32 >>> 0;
    for (let j = 1; j < N; j++) {
      const prev = s[j - 1];
      s[j] = (Math.imul(1812433253, prev ^ (prev >>> 30)) + j) >>> 0;
    }
  }

  /** Next tempered output, an unsigned 32-bit integer. */
  nextUint32(): number {
    if (this.index >= N) this.regenerate();
    let y = this.state[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  private regenerate(): void {
    const s = this.state;
    // Three spans so the (k + M) and (k + 1) neighbours need no modulo in the hot loops.
    let k = 0;
    for (; k < N - M; k++) s[k] = s[k + M] ^ twist(s[k], s[k + 1]);
    for (; k < N - 1; k++) s[k] = s[k + M - N] ^ twist(s[k], s[k + 1]);
    s[N - 1] = s[M - 1] ^ twist(s[N - 1], s[0]);
    this.index = 0;
  }
}

function twist(u: number, v: number): number {
  const y = (u & UPPER_MASK) | (v & LOWER_MASK);
  return (y >>> 1) ^ (v & 1 ? MATRIX_A : 0);
}
