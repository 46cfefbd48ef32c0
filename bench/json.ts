import { writeFile } from 'node:fs/promises'
import { overheadOf, type Verdict } from './analysis'
import type { BundleSize } from './bundle'
import type { CallbackResults } from './callbacks'
import { OPS, PROVIDER_OF } from './ops'
import type { BenchOptions } from './options'
import type { RunInfo } from './run-info'
import type { PassResults } from './scenario'
import type { Summary } from './summary'
import type { UploadResults } from './uploads'

/** Every figure of the run, raw and derived, for `--json <file>`. Times in ms, throughput in ops/s. */
export const writeJsonReport = async (
  file: string,
  options: BenchOptions,
  info: RunInfo,
  passes: { throughput: PassResults; latency: PassResults },
  callbacks: CallbackResults,
  targets: Verdict[],
  more: { uploads: UploadResults; bundle: BundleSize; summary: Summary },
) => {
  // Both estimates under their names; `judged` says which one the targets used.
  const overheads = (pass: PassResults) =>
    Object.fromEntries(
      OPS.map((op) => {
        const { judged, nodeBased, workerdBased, ...rest } = overheadOf(pass, op)
        return [
          op,
          {
            ...rest,
            node_based: nodeBased,
            workerd_based: workerdBased,
            judged: workerdBased ? 'workerd_based' : 'node_based',
          },
        ]
      }),
    )
  const report = {
    generated_at: new Date().toISOString(),
    options,
    environment: {
      cpus: info.cpus,
      node: info.node,
      load_average_start: info.loadAtStart,
      load_average_end: info.loadAtEnd,
    },
    setup: {
      sandbox_rate_limit_enabled: false,
      fixed_otp: info.fixedOtp,
      qi_fixed_token: info.qiToken,
      qi_response_signing: 'header',
      qi_status_webhooks: false,
      qi_direct_requests_presigned: true,
      api_key_cache_seconds: info.keyCacheSeconds,
      rate_limit: info.rateLimit,
      webhook_allow_http: true,
      webhook_allow_private_hosts: true,
    },
    units: {
      latency: 'ms',
      cpu: 'µs per request (passes.latency.cpu)',
      throughput: 'ops/s',
      round_trips: 'per op',
      callbacks_throughput: 'callbacks/s',
      upload_throughput: 'MiB/s (mibPerSec)',
      memory: 'KiB (VmRSS / VmHWM from /proc)',
      bundle: 'bytes, KiB where named so',
    },
    ops: OPS.map((op) => ({ op, provider: PROVIDER_OF[op] })),
    passes,
    // The gateway's own CPU per request, measured (µs): passes.latency.cpu, what the targets judge
    // when it ran. Estimates (differences of p50s), Node-based and workerd-based (the latter only
    // where the pass ran the I/O probe: passes.latency.ioProbe), reported beside it.
    overhead_estimate_ms: { latency: overheads(passes.latency), throughput: overheads(passes.throughput) },
    callbacks,
    // Document uploads: each size through the gateway and direct, with workerd's and Node's memory.
    uploads: more.uploads,
    bundle: more.bundle,
    targets,
    // The one-line-per-flow table printed last.
    summary: more.summary.rows,
  }
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`)
}
