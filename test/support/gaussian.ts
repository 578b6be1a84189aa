// A small seeded Gaussian source for the sampler tests, independent of the engine's RNG so that a
// bug there cannot hide in the expectations.

/** xorshift32 uniforms through Box–Muller: `count` standard normal draws per call. */
export function gaussian(seed: number): (count: number) => Float32Array {
  let state = seed >>> 0 || 1;
  const uniform = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return ((state >>> 0) + 0.5) / 2 ** 32;
  };
  return (count) => {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++)
      out[i] = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    return out;
  };
}
