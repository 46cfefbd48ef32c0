import { createClient } from '@libsql/client'
import { generateP521KeyPair } from '../../sandbox/qi/keys'
import type { workerOptionsFromConfig } from '../../test/helpers/worker'
import {
  type ChaosCounts,
  injectProviderFault,
  injectUploadFault,
  makeFlaky,
  makeHealthy,
  sendQiWebhookChaos,
} from './chaos'
import { newStats } from './client'
import { checkInvariants, type SoakReport } from './invariants'
import { createPartners, pickFlow, runFlow } from './partners'
import { type SoakSettings, startSoakStack } from './stack'

export type SoakOptions = {
  /** The load phase, ms (the fault schedule is laid out over it). */
  durationMs: number
  partners: number
  /** Flows in flight per partner. */
  concurrency: number
  /** At most this many flows per partner (the run is bounded in count and in time). */
  maxFlowsPerPartner: number
  /**
   * At least this many flows per partner, past `durationMs` if the machine is slow: the fault schedule
   * is laid out in time, the coverage must not depend on the machine's speed. 0 by default.
   */
  minFlowsPerPartner?: number
  /** How long the libSQL server stays down. */
  dbDownMs: number
  /** The settle phase's own bound (after the pending TTL). */
  settleMs: number
  seed: number
  settings: SoakSettings
  scriptPath: string
  workerOptions: ReturnType<typeof workerOptionsFromConfig>
  /** Progress lines (stderr in the runner). */
  log: (line: string) => void
}

/** A small deterministic PRNG (mulberry32), so a seed replays the same choices. */
export const prng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * How often the cron runs (Cloudflare: every minute). Not faster: each run re-enqueues every due
 * delivery not yet claimed, so a cron much faster than the queue drains it floods the queue with
 * duplicate doorbells (one run of the soak at 1–2 s swept 9,928 messages for 1,221 attempts, and a
 * recovered backlog starved behind them).
 */
const CRON_EVERY_MS = 5_000

/** Polls `done` until it holds or `timeoutMs` passes; answers whether it held. */
const until = async (done: () => Promise<boolean>, timeoutMs: number, everyMs = 1_000) => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await done()) return true
    if (Date.now() > deadline) return false
    await sleep(everyMs)
  }
}

/**
 * The soak: the whole stack on loopback, partners behaving as careful clients, a schedule of
 * overlapping faults, then the cron settles everything and the invariants are checked.
 */
export const runSoak = async (options: SoakOptions): Promise<SoakReport> => {
  const { log, settings } = options
  const random = prng(options.seed)
  const stack = await startSoakStack({
    scriptPath: options.scriptPath,
    workerOptions: options.workerOptions,
    settings,
    log,
  })
  const db = createClient({ url: stack.dbUrl })
  const receivers: { close: () => Promise<void> }[] = []
  try {
    const stats = newStats()
    const chaos: ChaosCounts = {}
    let stopping = false
    const partners = await createPartners(stack, options.partners, generateP521KeyPair(), stats, {
      requestTimeoutMs: 30_000,
      giveUpMs: Math.max(20_000, settings.pendingTtlSeconds * 1000),
      stopping: () => stopping,
    })
    const endpoints = partners.flatMap((p) => p.endpoints)
    receivers.push(...endpoints.map((e) => e.receiver))
    const byRole = (role: string) => endpoints.find((e) => e.role === role)
    stack.sampleMemory()
    log(`soak: stack up at ${stack.url}; ${partners.length} partners, ${endpoints.length} receivers`)

    // The Worker isolate's live heap (after GC) before the load, around the restart and at the end.
    const heap = {
      startMib: await stack.heapAfterGcMib(),
      warmMib: 0,
      beforeRestartMib: 0,
      afterRestartMib: 0,
      warmAfterRestartMib: 0,
      endMib: 0,
    }
    const runStart = Date.now()
    const runStartIso = new Date(runStart - 1_000).toISOString()
    const D = options.durationMs
    const at = (fraction: number) => runStart + fraction * D
    const waitUntil = async (t: number) => {
      const ms = t - Date.now()
      if (ms > 0) await sleep(ms)
    }

    // --- the partners: `concurrency` flows in flight each, until the time or the count runs out
    const flowOutcomes: Record<string, number> = {}
    let flowsStarted = 0
    const partnerLoops = partners.flatMap((partner) => {
      let n = 0
      return Array.from({ length: options.concurrency }, async () => {
        const more = () => Date.now() < runStart + D || n < (options.minFlowsPerPartner ?? 0)
        while (!stopping && more() && n < options.maxFlowsPerPartner) {
          const kind = pickFlow(random)
          const flowNo = n++
          flowsStarted++
          const outcome = await runFlow(kind, partner, flowNo, random, stack.qi.url).catch(
            (error: unknown) => `flow threw: ${error instanceof Error ? error.message : String(error)}`,
          )
          const key = `${kind}: ${outcome.replace(/\s+$/, '')}`
          flowOutcomes[key] = (flowOutcomes[key] ?? 0) + 1
          if (outcome.startsWith('flow threw')) stats.violations.push(`${kind} ${flowNo}: ${outcome}`)
        }
      })
    })

    // --- the cron, every CRON_EVERY_MS as a scheduler would (it fails while libSQL or the Worker is down)
    let cronRuns = 0
    let cronFailures = 0
    const cronLoop = (async () => {
      while (!stopping) {
        ;(await stack.cron()) ? cronRuns++ : cronFailures++
        await sleep(CRON_EVERY_MS)
      }
    })()

    // --- provider faults and QI webhook chaos, continuously from 5 % to 85 % of the run
    const providerFaults = (async () => {
      await waitUntil(at(0.05))
      while (!stopping && Date.now() < at(0.85)) {
        await injectProviderFault(stack, random, settings.providerTimeoutMs, chaos)
        if (random() < 0.15) await injectUploadFault(stack, chaos)
        await sleep(Math.max(300, D / 60))
      }
    })()
    const webhookChaos = (async () => {
      await waitUntil(at(0.1))
      while (!stopping && Date.now() < at(0.9)) {
        await sendQiWebhookChaos(stack, partners, random, chaos)
        await sleep(Math.max(250, D / 80))
      }
    })()

    // --- receivers, libSQL and the Worker: one schedule, several windows overlapping
    const events: string[] = []
    const note = (what: string) => {
      const line = `t+${((Date.now() - runStart) / 1000).toFixed(1)} s: ${what}`
      events.push(line)
      log(`soak: ${line}`)
    }
    const flaky = byRole('flaky')
    const gone = byRole('gone')
    const downup = byRole('downup')
    const rotated = byRole('rotated')
    let rotatedAt: number | null = null
    const schedule = (async () => {
      if (flaky) makeFlaky(flaky, random)
      await waitUntil(at(0.15))
      if (downup) {
        await downup.receiver.down()
        note(`receiver ${downup.receiver.name} down`)
      }
      // Warm by now (every route compiled, caches filled): the heap's reference for this process.
      await waitUntil(at(0.25))
      heap.warmMib = await stack.heapAfterGcMib()
      await waitUntil(at(0.3))
      note('libSQL server stopped')
      await stack.stopDb()
      await sleep(options.dbDownMs)
      await stack.startDb()
      note(`libSQL server started again on the same port and data (down ${options.dbDownMs} ms)`)
      await waitUntil(at(0.38))
      if (downup) {
        await downup.receiver.up()
        note(`receiver ${downup.receiver.name} back`)
      }
      await waitUntil(at(0.42))
      if (gone) {
        gone.receiver.behave(() => ({ status: 410 }))
        note(`receiver ${gone.receiver.name} answers 410 Gone`)
      }
      await waitUntil(at(0.5))
      if (rotated) {
        const answer = await partners[rotated.partner]!.client.careful(
          'setup',
          'POST',
          `/v1/webhook-endpoints/${rotated.id}/rotate-secret`,
          {},
        )
        if (answer?.status === 200 || answer?.status === 201) {
          rotated.receiver.trust(answer.body.secret)
          rotatedAt = Date.now()
          note(`endpoint ${rotated.receiver.name} secret rotated`)
        } else note(`rotate-secret failed: ${answer?.status}`)
      }
      await waitUntil(at(0.6))
      heap.beforeRestartMib = await stack.heapAfterGcMib()
      note('Worker restarting')
      await stack.restartWorker()
      heap.afterRestartMib = await stack.heapAfterGcMib()
      note('Worker restarted (new workerd process, same port)')
      await waitUntil(at(0.8))
      heap.warmAfterRestartMib = await stack.heapAfterGcMib()
      await waitUntil(at(0.85))
      if (flaky) makeHealthy(flaky)
      note(`receiver ${flaky?.receiver.name ?? '-'} healthy again`)
    })()

    await Promise.all(partnerLoops)
    const loadEnd = Date.now()
    note(`load over: ${flowsStarted} flows`)
    stopping = true
    await Promise.all([schedule, providerFaults, webhookChaos, cronLoop])
    stopping = false

    // --- settle: faults off, receivers healthy, the cron until nothing is open or pending
    await fetch(`${stack.sfox.url}/_sandbox/faults`, { method: 'DELETE' })
    await fetch(`${stack.qi.url}/_sandbox/faults`, { method: 'DELETE' })
    for (const e of endpoints) {
      if (e.role !== 'gone') makeHealthy(e)
      await e.receiver.up()
    }
    const count = async (sql: string) => Number((await db.execute(sql)).rows[0]![0])
    const openTransfers = () =>
      count(`SELECT COUNT(*) FROM transfers WHERE status IN ('submitting', 'pending_verification', 'processing')`)
    const pendingDeliveries = () =>
      count(`SELECT COUNT(*) FROM deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
             WHERE d.status = 'pending' AND e.enabled = 1`)
    let lastCron = 0
    const cronNow = async () => {
      if (Date.now() - lastCron < CRON_EVERY_MS) return
      lastCron = Date.now()
      await stack.cron()
    }
    const settleStart = Date.now()
    const settled = await until(
      async () => {
        await cronNow()
        return (await openTransfers()) === 0 && (await pendingDeliveries()) === 0
      },
      settings.pendingTtlSeconds * 1000 + options.settleMs,
    )
    note(
      settled
        ? `settled in ${((Date.now() - settleStart) / 1000).toFixed(1)} s`
        : `NOT settled: ${await openTransfers()} open transfers, ${await pendingDeliveries()} pending deliveries`,
    )

    // --- the 410 receiver: disabled by the gateway; enabled again, `recover` sends its backlog
    let goneReport: SoakReport['gone'] = null
    if (gone) {
      const row = (
        await db.execute({
          sql: 'SELECT enabled, disabled_reason FROM webhook_endpoints WHERE id = ?',
          args: [gone.id],
        })
      ).rows[0]!
      const client = partners[gone.partner]!.client
      makeHealthy(gone)
      const enabled = await client.careful('setup', 'PATCH', `/v1/webhook-endpoints/${gone.id}`, { enabled: true })
      let requeued = 0
      for (let more = true, calls = 0; more && calls < 10; calls++) {
        const answer = await client.careful('recover', 'POST', `/v1/webhook-endpoints/${gone.id}/recover`, {
          since: runStartIso,
        })
        requeued += Number(answer?.body?.deliveries_requeued ?? 0)
        more = answer?.body?.has_more === true
      }
      const recovered = await until(async () => {
        await cronNow()
        return (await pendingDeliveries()) === 0
      }, 120_000)
      if (!recovered) {
        const states = await db.execute({
          sql: 'SELECT status, attempts, next_attempt_at, locked_until, last_status_code, last_error, COUNT(*) AS n FROM deliveries WHERE endpoint_id = ? GROUP BY 1, 2, 3 IS NULL, 4 IS NULL, 5, 6 LIMIT 20',
          args: [gone.id],
        })
        log(`soak: 410 receiver backlog not delivered: ${JSON.stringify(states.rows)}`)
      }
      goneReport = {
        disabled: Number(row.enabled) === 0,
        reason: row.disabled_reason === null ? null : String(row.disabled_reason),
        reenabled: enabled?.status === 200,
        requeued,
        settled: recovered,
      }
      note(`410 receiver: disabled ${goneReport.disabled} (${goneReport.reason}); recover requeued ${requeued}`)
    }
    stack.sampleMemory()
    heap.endMib = await stack.heapAfterGcMib()

    return await checkInvariants({
      heap,
      stack,
      db,
      partners,
      stats,
      chaos,
      settings,
      events,
      flowOutcomes,
      flowsStarted,
      runStart,
      loadEnd,
      settled,
      gone: goneReport,
      cron: { runs: cronRuns, failures: cronFailures },
      rotatedAt,
    })
  } finally {
    db.close()
    for (const receiver of receivers) await receiver.close()
    await stack.close()
  }
}
