import { parseArgs } from 'node:util'

export type BenchOptions = {
  /** Ops per phase (each op type, each side). */
  n: number
  /** Requests in flight per phase of the throughput pass. */
  concurrency: number
  /** Ops per phase of the latency pass (1 in flight), which the overhead estimate comes from. */
  latencyN: number
  /** Throughput pass: ops per QI phase (QI's ES512 signing makes each op several times dearer). */
  qiN: number
  /** Latency pass: ops per QI phase. */
  qiLatencyN: number
  /** create+resend+wrong+confirm+get flows per side and provider before anything is measured. */
  warmup: number
  /** Callback latency run: status changes, one at a time, each waiting for its callbacks. */
  callbacksN: number
  /** Callback throughput runs: callbacks per burst (two per status change). */
  callbacksBurst: number
  /** Status changes in flight during a burst. */
  burstConcurrency: number
  /** The receiver's answer delay in the second burst; 0 skips that burst. */
  callbackDelayMs: number
  /** Document uploads: timed uploads per size (100 KiB, 10 MiB) and side, one at a time. */
  uploadsN: number
  /** I/O probe (latency pass): timed calls per probe and side (Node, workerd); 0 skips it. */
  ioProbeN: number
  /** CPU judge (latency pass): requests per step and side, gateway and its I/O replay; 0 skips it. */
  cpuN: number
  /** Where to write every figure as JSON, if anywhere. */
  json: string | undefined
}

export const USAGE = `npm run bench [-- --n 300 --concurrency 4 --latency-n 150 --qi-n 150 --qi-latency-n 100 --warmup 30
                   --callbacks-n 100 --callbacks-burst 500 --burst-concurrency 8 --callback-delay-ms 20 --uploads-n 10
                   --io-probe-n 300 --cpu-n 400 --json bench.json]

  --n <count>                 throughput pass: ops per phase and side (env BENCH_N, default 300)
  --concurrency <count>       throughput pass: requests in flight (env BENCH_CONCURRENCY, default 4)
  --latency-n <count>         latency pass (1 in flight): ops per phase and side (env BENCH_LATENCY_N, default 150)
  --qi-n <count>              throughput pass: ops per QI phase and side (env BENCH_QI_N, default 150)
  --qi-latency-n <count>      latency pass: ops per QI phase and side (env BENCH_QI_LATENCY_N, default 100)
  --warmup <count>            warm-up flows per side and provider before measuring (env BENCH_WARMUP, default 30)
  --callbacks-n <count>       callback latency: status changes, one at a time (env BENCH_CALLBACKS_N, default 100)
  --callbacks-burst <count>   callback throughput: callbacks per burst, 2 per status change (env BENCH_CALLBACKS_BURST, default 500)
  --burst-concurrency <count> status changes in flight during a burst (env BENCH_BURST_CONCURRENCY, default 8)
  --callback-delay-ms <ms>    receiver answer delay of the second burst, 0 skips it (env BENCH_CALLBACK_DELAY_MS, default 20)
  --uploads-n <count>         document uploads: timed uploads per size (100 KiB, 10 MiB) and side (env BENCH_UPLOADS_N, default 10)
  --io-probe-n <count>        I/O probe: timed calls per probe and side, from Node and from inside workerd (rounded up to
                              batches of 20); 0 skips it, the targets then use the Node-based estimate (env BENCH_IO_PROBE_N, default 300)
  --cpu-n <count>             CPU judge: requests per step and side, the gateway's and a replay of their I/O alone, workerd's
                              CPU from /proc (rounded up to 8 rounds, half judged in turns of 10, half interleaved); 0 skips it (env BENCH_CPU_N, default 400)
  --json <file>               also write every figure as JSON (env BENCH_JSON)
`

const integer = (name: string, raw: string | undefined, fallback: number, min: number): number => {
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min)
    throw new Error(`${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`)
  return value
}
const positiveInt = (name: string, raw: string | undefined, fallback: number) => integer(name, raw, fallback, 1)

/** Flags win over environment variables, which win over defaults. `null` means: print usage. */
export const parseOptions = (argv: string[], env: NodeJS.ProcessEnv): BenchOptions | null => {
  const { values } = parseArgs({
    args: argv,
    options: {
      n: { type: 'string' },
      concurrency: { type: 'string' },
      'latency-n': { type: 'string' },
      'qi-n': { type: 'string' },
      'qi-latency-n': { type: 'string' },
      warmup: { type: 'string' },
      'callbacks-n': { type: 'string' },
      'callbacks-burst': { type: 'string' },
      'burst-concurrency': { type: 'string' },
      'callback-delay-ms': { type: 'string' },
      'uploads-n': { type: 'string' },
      'io-probe-n': { type: 'string' },
      'cpu-n': { type: 'string' },
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
    qiN: positiveInt('--qi-n (BENCH_QI_N)', values['qi-n'] ?? env.BENCH_QI_N, 150),
    qiLatencyN: positiveInt(
      '--qi-latency-n (BENCH_QI_LATENCY_N)',
      values['qi-latency-n'] ?? env.BENCH_QI_LATENCY_N,
      100,
    ),
    warmup: positiveInt('--warmup (BENCH_WARMUP)', values.warmup ?? env.BENCH_WARMUP, 30),
    callbacksN: positiveInt('--callbacks-n (BENCH_CALLBACKS_N)', values['callbacks-n'] ?? env.BENCH_CALLBACKS_N, 100),
    callbacksBurst: integer(
      '--callbacks-burst (BENCH_CALLBACKS_BURST)',
      values['callbacks-burst'] ?? env.BENCH_CALLBACKS_BURST,
      500,
      2,
    ),
    burstConcurrency: positiveInt(
      '--burst-concurrency (BENCH_BURST_CONCURRENCY)',
      values['burst-concurrency'] ?? env.BENCH_BURST_CONCURRENCY,
      8,
    ),
    callbackDelayMs: integer(
      '--callback-delay-ms (BENCH_CALLBACK_DELAY_MS)',
      values['callback-delay-ms'] ?? env.BENCH_CALLBACK_DELAY_MS,
      20,
      0,
    ),
    uploadsN: positiveInt('--uploads-n (BENCH_UPLOADS_N)', values['uploads-n'] ?? env.BENCH_UPLOADS_N, 10),
    ioProbeN: integer('--io-probe-n (BENCH_IO_PROBE_N)', values['io-probe-n'] ?? env.BENCH_IO_PROBE_N, 300, 0),
    cpuN: integer('--cpu-n (BENCH_CPU_N)', values['cpu-n'] ?? env.BENCH_CPU_N, 400, 0),
    json: values.json ?? (env.BENCH_JSON || undefined),
  }
}
