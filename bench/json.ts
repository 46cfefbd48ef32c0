import { writeFile } from 'node:fs/promises'
import { overheadOf, type Verdict } from './analysis'
import type { BenchOptions } from './options'
import { OPS, type PassResults } from './scenario'

export type RunInfo = { cpus: number; node: string; loadAtStart: number[]; loadAtEnd: number[]; keyCacheSeconds: number; fixedOtp: string }

/** Every figure of the run, raw and derived, for `--json <file>`. Times in ms, throughput in ops/s. */
export const writeJsonReport = async (
  file: string,
  options: BenchOptions,
  info: RunInfo,
  passes: { throughput: PassResults; latency: PassResults },
  targets: Verdict[],
) => {
  const overheads = (pass: PassResults) => Object.fromEntries(OPS.map((op) => [op, overheadOf(pass, op)]))
  const report = {
    generated_at: new Date().toISOString(),
    options,
    environment: { cpus: info.cpus, node: info.node, load_average_start: info.loadAtStart, load_average_end: info.loadAtEnd },
    setup: { sandbox_rate_limit_enabled: false, fixed_otp: info.fixedOtp, api_key_cache_seconds: info.keyCacheSeconds },
    units: { latency: 'ms', throughput: 'ops/s', round_trips: 'per op' },
    passes,
    // Estimates (differences of p50s); the latency pass's is the one the targets use.
    overhead_estimate_ms: { latency: overheads(passes.latency), throughput: overheads(passes.throughput) },
    targets,
  }
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`)
}
