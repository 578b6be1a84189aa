// k-diffusion's get_ancestral_step: splits a step from sigmaFrom to sigmaTo into a deterministic
// part (down) and fresh noise (up), so that the marginal noise level is right.

export function ancestralStep(sigmaFrom: number, sigmaTo: number, eta = 1): { down: number; up: number } {
  if (!eta) return { down: sigmaTo, up: 0 };
  const up = Math.min(
    sigmaTo,
    eta * Math.sqrt((sigmaTo ** 2 * (sigmaFrom ** 2 - sigmaTo ** 2)) / sigmaFrom ** 2),
  );
  const down = Math.sqrt(sigmaTo ** 2 - up ** 2);
  return { down, up };
}
