// Profiles one flow pass by pass (a baseline without inspector, the Worker's isolate profiled, every
// isolate profiled, perf) and prints the flow's tables to stdout.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Driver } from './driver'
import { type InspectorTarget, profileWhile } from './inspector'
import { isolateReport, isolateSummary } from './isolate-report'
import type { ProfileOptions } from './options'
import { perfSummary } from './perf'
import type { MapPosition } from './source-map'

export type FlowProfilerContext = {
  options: ProfileOptions
  driver: Driver
  inspectorPort: number
  targets: { user: InspectorTarget; others: InspectorTarget[] }
  /** Where the .cpuprofile (and perf.data) files go. */
  outDir: string
  mapPosition: MapPosition
  progress: (line: string) => void
}

/**
 * `profileFlow(label, count, op, prepare)`: `op(i, phase)` sends request `i` of a pass; `prepare`
 * runs before each measured pass, outside it (the transfers a confirm or resend needs).
 */
export const flowProfiler = ({
  options,
  driver,
  inspectorPort,
  targets,
  outDir,
  mapPosition,
  progress,
}: FlowProfilerContext) => {
  /** Runs `count` requests with the profiler on in each of `isolates`; answers their profiles. */
  const profiled = (isolates: InspectorTarget[], count: number, op: (i: number) => Promise<unknown>) =>
    profileWhile(inspectorPort, isolates, options.intervalUs, () => driver.drive(count, op))

  return async (
    label: string,
    count: number,
    op: (i: number, phase: string) => Promise<unknown>,
    prepare: (phase: string, count: number) => Promise<unknown> = async () => {},
  ) => {
    await prepare('base', count)
    progress(`${label}: ${count} requests without any inspector session (baseline)`)
    const baseline = await driver.drive(count, (i) => op(i, 'base'))
    await prepare('prof', count)
    progress(`${label}: ${count} requests profiling the Worker's isolate`)
    const detail = await profiled([targets.user], count, (i) => op(i, 'prof'))
    const file = join(outDir, `${label}.cpuprofile`)
    await writeFile(file, JSON.stringify(detail.profiles[0]))
    const out = [
      '',
      `=== ${label}: ${count} requests, 1 in flight; profile: ${file}`,
      `baseline (no inspector session): wall ${(baseline.wallMs / count).toFixed(2)} ms/req; ${baseline.cpu.text}`,
      `Worker profiled:                 wall ${(detail.wallMs / count).toFixed(2)} ms/req; ${detail.cpu.text}`,
    ]
    const splitN = Math.round(count * options.split)
    if (splitN > 0) {
      progress(`${label}: ${splitN} requests profiling every isolate (the split)`)
      const all = [targets.user, ...targets.others]
      await prepare('split', splitN)
      const split = await profiled(all, splitN, (i) => op(i, 'split'))
      for (let t = 0; t < all.length; t++) {
        await writeFile(
          join(outDir, `${label}.split.${all[t]!.id.replace(/[^A-Za-z0-9_.-]+/g, '_') || 'worker'}.cpuprofile`),
          JSON.stringify(split.profiles[t]),
        )
      }
      const summaries = all.map((t, k) => ({
        id: t.id === targets.user.id ? `${t.id} (the Worker)` : t.id,
        ...isolateSummary(t.id, split.profiles[k]!, splitN, options.intervalUs),
      }))
      const sum = summaries.reduce((a, s) => a + s.busyMs, 0)
      out.push(
        `All isolates profiled (${splitN} requests): wall ${(split.wallMs / splitN).toFixed(2)} ms/req; ${split.cpu.text}`,
        "JS+GC per isolate on workerd's thread (share of all isolates' JS+GC; absolute figures inflated by 7 samplers):",
        ...summaries
          .filter((s) => s.busyMs > 0)
          .sort((a, b) => b.busyMs - a.busyMs)
          .map((s) => s.line(`${((100 * s.busyMs) / sum).toFixed(0).padStart(3)}%`)),
      )
    }
    if (options.perf) {
      // A pass of its own: perf's sampling costs the thread something, the baseline stays clean.
      const perfN = Math.max(200, splitN)
      progress(`${label}: ${perfN} requests under perf (no inspector session)`)
      await prepare('perf', perfN)
      const native = await driver.drive(perfN, (i) => op(i, 'perf'), join(outDir, `${label}.perf.data`))
      out.push(
        '',
        `perf pass (${perfN} requests): wall ${(native.wallMs / perfN).toFixed(2)} ms/req; ${native.cpu.text}`,
        "Native view of workerd's event-loop thread: every isolate on it (the Worker, its Durable Object, Miniflare's workers), its I/O and the kernel.",
        perfSummary(native.perfReport!, perfN, native.cpu.main, options.top),
      )
    }
    out.push(
      '',
      `The Worker's isolate (${targets.user.id}), profiled alone:`,
      isolateReport(detail.profiles[0]!, mapPosition, {
        requests: count,
        wallMs: detail.wallMs,
        top: options.top,
        intervalUs: options.intervalUs,
      }),
      '',
    )
    process.stdout.write(out.join('\n'))
  }
}
