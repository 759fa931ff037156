/** Limits a callee (the side that exposed the procedures) applies to its callers. Each breach fails that one call; the link stays up. */
export interface ProcedureLimits {
  /** Most calls (streams included) running at once for callers over one link. Default 16,384. */
  maxCallsInFlight: number
  /** Most callbacks (functions) in one call's arguments. Default 64. */
  maxCallbacksPerCall: number
  /** Largest encoded call (name and arguments), in bytes. Default 16 MiB. */
  maxArgBytes: number
}

export const DEFAULT_PROCEDURE_LIMITS: Readonly<ProcedureLimits> = Object.freeze({
  maxCallsInFlight: 16_384,
  maxCallbacksPerCall: 64,
  maxArgBytes: 16 * 1024 * 1024,
})

export function resolveProcedureLimits(partial: Partial<ProcedureLimits> = {}): ProcedureLimits {
  const out = { ...DEFAULT_PROCEDURE_LIMITS }
  for (const key of Object.keys(DEFAULT_PROCEDURE_LIMITS) as (keyof ProcedureLimits)[]) {
    const v = partial[key]
    if (v === undefined) continue
    if (typeof v !== 'number' || !(v >= 0) || Number.isNaN(v)) throw new RangeError(`limit ${key} must be a number >= 0, got ${String(v)}`)
    out[key] = Math.floor(v)
  }
  return out
}
