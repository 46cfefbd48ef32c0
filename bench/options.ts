import { parseArgs } from 'node:util'

export type BenchOptions = {
  /** Ops per phase (each op type, each side). */
  n: number
  /** Requests in flight per phase of the throughput pass. */
  concurrency: number
  /** Ops per phase of the latency pass (1 in flight), which the overhead estimate comes from. */
  latencyN: number
  /** create+resend+wrong+confirm+get flows per side before anything is measured. */
  warmup: number
  /** Where to write every figure as JSON, if anywhere. */
  json: string | undefined
}

export const USAGE = `npm run bench [-- --n 300 --concurrency 4 --latency-n 150 --warmup 30 --json bench.json]

  --n <count>            throughput pass: ops per phase and side (env BENCH_N, default 300)
  --concurrency <count>  throughput pass: requests in flight (env BENCH_CONCURRENCY, default 4)
  --latency-n <count>    latency pass (1 in flight): ops per phase and side (env BENCH_LATENCY_N, default 150)
  --warmup <count>       warm-up flows per side before measuring (env BENCH_WARMUP, default 30)
  --json <file>          also write every figure as JSON (env BENCH_JSON)
`

const positiveInt = (name: string, raw: string | undefined, fallback: number): number => {
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`)
  return value
}

/** Flags win over environment variables, which win over defaults. `null` means: print usage. */
export const parseOptions = (argv: string[], env: NodeJS.ProcessEnv): BenchOptions | null => {
  const { values } = parseArgs({
    args: argv,
    options: {
      n: { type: 'string' },
      concurrency: { type: 'string' },
      'latency-n': { type: 'string' },
      warmup: { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
  if (values.help) return null
  return {
    n: positiveInt('--n (BENCH_N)', values.n ?? env.BENCH_N, 300),
    concurrency: positiveInt('--concurrency (BENCH_CONCURRENCY)', values.concurrency ?? env.BENCH_CONCURRENCY, 4),
    latencyN: positiveInt('--latency-n (BENCH_LATENCY_N)', values['latency-n'] ?? env.BENCH_LATENCY_N, 150),
    warmup: positiveInt('--warmup (BENCH_WARMUP)', values.warmup ?? env.BENCH_WARMUP, 30),
    json: values.json ?? (env.BENCH_JSON || undefined),
  }
}
