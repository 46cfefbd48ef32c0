import type { Client } from '@libsql/client'
import { table } from '../table'
import type { ChaosCounts } from './chaos'
import type { Stats } from './client'
import type { SoakPartner } from './partners'
import { SOAK_OTP, type SoakSettings, type SoakStack } from './stack'

/** One invariant: its figure, and whether it held. */
export type Check = { name: string; figure: string; ok: boolean; details: string[] }

export type SoakReport = {
  checks: Check[]
  figures: { name: string; value: string }[]
  latency: { op: string; count: number; p50: number; p99: number }[]
  memory: { startMib: number; peakMib: number; endMib: number; perIncarnation: string[] }
  chaos: ChaosCounts
  events: string[]
  flowOutcomes: Record<string, number>
  gone: { disabled: boolean; reason: string | null; reenabled: boolean; requeued: number; settled: boolean } | null
  ok: boolean
}

const quantile = (sorted: number[], q: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : Number.NaN

/** What the provider's status must be for the gateway's (QI cancels and expires on the gateway's side). */
const SFOX_EXPECTED: Record<string, string[]> = {
  pending_verification: ['PENDING'],
  processing: ['INITIATED'],
  completed: ['COMPLETE'],
  canceled: ['CANCELED'],
  expired: ['CANCELED'],
}
const QI_EXPECTED: Record<string, string[]> = {
  pending_verification: ['pending_2fa_approval'],
  canceled: ['pending_2fa_approval'],
  expired: ['pending_2fa_approval'],
  processing: ['pending'],
  completed: ['sent'],
  failed: ['rejected'],
  returned: ['returned'],
}

// The sandbox's answer to a wrong code (sfoxErrors.invalidCode); a burned or expired code is not judged.
const INVALID_CODE = 'Invalid code.'

type Row = Record<string, unknown>

/** How much the warm Worker isolate's heap after GC may grow within one process over a run (≈ 9 MiB). */
const HEAP_GROWTH_LIMIT_MIB = 1

export const checkInvariants = async (input: {
  stack: SoakStack
  db: Client
  partners: SoakPartner[]
  stats: Stats
  chaos: ChaosCounts
  settings: SoakSettings
  events: string[]
  flowOutcomes: Record<string, number>
  flowsStarted: number
  runStart: number
  loadEnd: number
  settled: boolean
  gone: SoakReport['gone']
  cron: { runs: number; failures: number }
  rotatedAt: number | null
  heap: {
    startMib: number
    warmMib: number
    beforeRestartMib: number
    afterRestartMib: number
    warmAfterRestartMib: number
    endMib: number
  }
}): Promise<SoakReport> => {
  const { stack, db, partners, stats, settings } = input
  const checks: Check[] = []
  const check = (name: string, figure: string, details: string[], ok = details.length === 0) =>
    checks.push({ name, figure, ok, details: details.slice(0, 10) })

  const rows = async (sql: string) => (await db.execute(sql)).rows as unknown as Row[]
  const transfers = await rows(
    'SELECT id, partner_id, transfer_id, provider, status, provider_status, provider_reference, sequence FROM transfers',
  )
  const byKey = new Map(transfers.map((t) => [`${t.partner_id} ${t.transfer_id}`, t]))
  const byId = new Map(transfers.map((t) => [String(t.id), t]))

  // --- 1. one provider transfer per transfer_id, counted at the sandboxes
  const sfoxTransfers: Row[] = []
  const sfoxOutbox: Row[] = []
  const uploads: Row[] = []
  for (const p of partners) {
    const get = async (path: string) =>
      ((await (await fetch(`${stack.sfox.url}/_sandbox/${path}?account=${p.sfoxAccount}`)).json()) as { data: Row[] })
        .data
    sfoxTransfers.push(...(await get('transfers')))
    sfoxOutbox.push(...(await get('outbox')))
    uploads.push(...(await get('uploads')))
  }
  const qiTeds = [...stack.qi.state.teds.values()]
  const accountPartner = new Map(partners.map((p) => [p.qiAccount, p]))
  const duplicates: string[] = []
  const orphans: string[] = []
  const mismatches: string[] = []
  const matched = new Set<string>()
  const perPartnerId = new Map<string, number>()
  for (const t of sfoxTransfers) {
    const key = `sfox ${t.account} ${t.description}`
    perPartnerId.set(key, (perPartnerId.get(key) ?? 0) + 1)
    const gw = byId.get(String(t.transfer_id))
    if (!gw || gw.transfer_id !== t.description) {
      orphans.push(`sFOX ${t.transfer_id} (${t.description}) ${t.transfer_status_code}: no gateway transfer`)
      continue
    }
    matched.add(String(gw.id))
    const expected = SFOX_EXPECTED[String(gw.status)] ?? []
    if (!expected.includes(String(t.transfer_status_code)))
      mismatches.push(`${gw.transfer_id}: gateway ${gw.status}, sFOX ${t.transfer_status_code}`)
  }
  for (const ted of qiTeds) {
    const partner = accountPartner.get(ted.account_key)
    if (!partner) continue
    const transferId = partner.tedAmounts.get(Number(ted.transaction_amount).toFixed(2))
    const key = `qi ${ted.account_key} ${transferId ?? ted.ted_key}`
    perPartnerId.set(key, (perPartnerId.get(key) ?? 0) + 1)
    const gw = transferId ? byKey.get(`${partner.id} ${transferId}`) : undefined
    if (!gw || gw.provider_reference !== ted.ted_key) {
      orphans.push(`QI ${ted.ted_key} (${transferId}) ${ted.ted_status}: no gateway transfer holds it`)
      continue
    }
    matched.add(String(gw.id))
    const expected = QI_EXPECTED[String(gw.status)] ?? []
    if (!expected.includes(ted.ted_status))
      mismatches.push(`${gw.transfer_id}: gateway ${gw.status}, QI ${ted.ted_status}`)
  }
  for (const [key, n] of perPartnerId) if (n > 1) duplicates.push(`${key}: ${n} provider transfers`)
  // A gateway transfer the provider never made must say so: failed (its create was never confirmed).
  const unmade = transfers.filter((t) => !matched.has(String(t.id)))
  for (const t of unmade)
    if (t.status !== 'failed') mismatches.push(`${t.transfer_id}: gateway ${t.status}, no provider transfer`)
  const providerTotal = sfoxTransfers.length + qiTeds.length
  check(
    'one provider transfer per transfer_id',
    `${providerTotal} at the sandboxes (sFOX ${sfoxTransfers.length}, QI ${qiTeds.length}) for ${transfers.length} gateway transfers; ${duplicates.length} duplicates, ${orphans.length} orphans`,
    [...duplicates, ...orphans],
  )
  const statusCounts: Record<string, number> = {}
  for (const t of transfers)
    statusCounts[`${t.provider} ${t.status}`] = (statusCounts[`${t.provider} ${t.status}`] ?? 0) + 1
  check(
    'gateway status == provider status',
    `${transfers.length - mismatches.length}/${transfers.length} agree (${unmade.length} never made at the provider, all failed)`,
    mismatches,
  )

  // --- 2. events: sequence without gaps, every one at every subscribed receiver (verified, acknowledged)
  const events = await rows(
    "SELECT e.id, e.partner_id, e.transfer_pk, e.transfer_id, e.type, e.sequence FROM events e WHERE e.type != 'transfer.test' ORDER BY e.transfer_pk, e.sequence",
  )
  const seqs = new Map<string, number[]>()
  for (const e of events)
    seqs.set(String(e.transfer_pk), [...(seqs.get(String(e.transfer_pk)) ?? []), Number(e.sequence)])
  const gaps: string[] = []
  for (const t of transfers) {
    const got = seqs.get(String(t.id)) ?? []
    const want = Number(t.sequence)
    if (got.length !== want || got.some((s, i) => s !== i + 1))
      gaps.push(`${t.transfer_id}: sequence ${want}, events [${got.join(',')}]`)
  }
  check('per-transfer sequence without gaps (gateway)', `${events.length} events, ${gaps.length} gaps`, gaps)

  const missing: string[] = []
  let expectedDeliveries = 0
  let receiverGaps = 0
  const perReceiver: string[] = []
  for (const p of partners) {
    for (const endpoint of p.endpoints) {
      const acked = new Set(
        endpoint.receiver.arrivals
          .filter((a) => typeof a.answered === 'number' && a.answered >= 200 && a.answered < 300)
          .map((a) => a.webhookId),
      )
      const wanted = events.filter(
        (e) => e.partner_id === p.id && (endpoint.eventTypes === null || endpoint.eventTypes.includes(String(e.type))),
      )
      expectedDeliveries += wanted.length
      const lost = wanted.filter((e) => !acked.has(String(e.id)))
      for (const e of lost.slice(0, 3))
        missing.push(`${endpoint.receiver.name}: ${e.transfer_id} ${e.type} #${e.sequence} (${e.id})`)
      if (lost.length > 3) missing.push(`${endpoint.receiver.name}: … ${lost.length} missing in all`)
      if (endpoint.eventTypes === null) {
        // Every sequence number of every transfer arrived at this receiver.
        const seen = new Map<string, Set<number>>()
        for (const a of endpoint.receiver.arrivals)
          if (acked.has(a.webhookId)) seen.set(a.transferId, (seen.get(a.transferId) ?? new Set()).add(a.sequence))
        for (const t of transfers)
          if (t.partner_id === p.id)
            for (let s = 1; s <= Number(t.sequence); s++) if (!seen.get(String(t.transfer_id))?.has(s)) receiverGaps++
      }
      const arrivals = endpoint.receiver.arrivals.length
      const dupes = arrivals - new Set(endpoint.receiver.arrivals.map((a) => a.webhookId)).size
      perReceiver.push(
        `${endpoint.receiver.name} ${wanted.length - lost.length}/${wanted.length} (${arrivals} arrivals, ${dupes} repeats, ${endpoint.receiver.unverified()} unverified)`,
      )
    }
  }
  check(
    'every event at every subscribed receiver (standardwebhooks-verified, acknowledged)',
    `${expectedDeliveries - missing.length}/${expectedDeliveries}: ${perReceiver.join('; ')}`,
    missing,
  )
  check(
    'per-transfer sequence without gaps (at each all-events receiver)',
    `${receiverGaps} gaps`,
    receiverGaps ? [`${receiverGaps} sequence numbers never acknowledged`] : [],
  )
  const rotated = partners.flatMap((p) => p.endpoints).find((e) => e.role === 'rotated')
  if (rotated && input.rotatedAt !== null) {
    const after = rotated.receiver.arrivals.filter((a) => a.at > input.rotatedAt! + 1_000)
    const both = after.filter((a) => a.verifiedWith === 2).length
    check(
      'rotated endpoint: callbacks signed with new and old secret during the grace',
      `${both}/${after.length} after rotation verified with both`,
      both === after.length ? [] : [`${after.length - both} verified with one secret only`],
    )
  }
  if (input.gone) {
    const g = input.gone
    check(
      '410 receiver disabled, recover delivers its backlog after re-enabling',
      `disabled ${g.disabled} (${g.reason ?? '-'}), re-enabled ${g.reenabled}, ${g.requeued} requeued, settled ${g.settled}`,
      g.disabled && g.reenabled && g.settled && g.requeued > 0 ? [] : ['see figure'],
    )
  }

  // --- 3. limits at the provider's count
  const overResends: string[] = []
  const resendsAt = new Map<string, number>()
  for (const o of sfoxOutbox)
    if (o.reason === 'resend') resendsAt.set(`sFOX ${o.transfer_id}`, (resendsAt.get(`sFOX ${o.transfer_id}`) ?? 0) + 1)
  for (const token of stack.qi.state.tokens)
    if (token.reason === 'resend') resendsAt.set(`QI ${token.ted_key}`, (resendsAt.get(`QI ${token.ted_key}`) ?? 0) + 1)
  for (const [key, n] of resendsAt)
    if (n > settings.resendLimit) overResends.push(`${key}: ${n} resends sent (limit ${settings.resendLimit})`)
  const maxResends = Math.max(0, ...resendsAt.values())
  check(
    'resend limit at the provider',
    `${[...resendsAt.values()].reduce((a, b) => a + b, 0)} resends on ${resendsAt.size} transfers, most ${maxResends} (limit ${settings.resendLimit})`,
    overResends,
  )
  const wrongJudged = new Map<string, number>()
  for (const c of stack.proxy.confirms) {
    const judged = (c.status === 422 && c.error === INVALID_CODE) || c.status === 502
    if (judged && c.otp !== SOAK_OTP)
      wrongJudged.set(`sFOX ${c.transferId}`, (wrongJudged.get(`sFOX ${c.transferId}`) ?? 0) + 1)
  }
  for (const ted of qiTeds) if (ted.tfa.attempts > 0) wrongJudged.set(`QI ${ted.ted_key}`, ted.tfa.attempts)
  const overAttempts = [...wrongJudged]
    .filter(([, n]) => n > settings.confirmAttempts)
    .map(([key, n]) => {
      const seen = stack.proxy.confirms
        .filter((c) => `sFOX ${c.transferId}` === key)
        .map((c) => `${c.otp === SOAK_OTP ? 'right' : 'wrong'} ${c.status}${c.error ? ` ${c.error}` : ''}`)
      return `${key}: ${n} wrong codes judged (limit ${settings.confirmAttempts})${seen.length ? `: ${seen.join('; ')}` : ''}`
    })
  check(
    'confirm attempt limit at the provider',
    `${[...wrongJudged.values()].reduce((a, b) => a + b, 0)} wrong codes judged on ${wrongJudged.size} transfers, most ${Math.max(0, ...wrongJudged.values())} (limit ${settings.confirmAttempts})`,
    overAttempts,
  )

  // --- 4. answers: no undocumented 5xx, nothing lost without an answer
  const samples = stats.samples
  const fiveXx: Record<string, number> = {}
  for (const s of samples)
    if (typeof s.status === 'number' && s.status >= 500)
      fiveXx[`${s.status} ${s.code}`] = (fiveXx[`${s.status} ${s.code}`] ?? 0) + 1
  const timeouts = samples.filter((s) => s.status === 'timeout').length
  const connErrors = samples.filter((s) => s.status === 'error').length
  check(
    'no 5xx but documented provider/service problems',
    Object.entries(fiveXx)
      .map(([k, n]) => `${k}: ${n}`)
      .join(', ') || 'none',
    [
      ...stats.violations.filter((v) => v.includes('undocumented')),
      ...stack.unhandled.map((line) => `Worker log: ${line.slice(0, 400)}`),
    ],
  )
  check(
    'no request lost without an answer',
    `${samples.length} requests, ${timeouts} unanswered past 30 s, ${connErrors} refused or cut while the Worker restarted (retried)`,
    timeouts ? [`${timeouts} requests got no answer within 30 s`] : [],
  )
  const notPending = stats.violations.filter((v) => v.includes('not pending'))
  check(
    '409 transfer_not_pending_verification says where the transfer is',
    `${samples.filter((s) => s.code === 'transfer_not_pending_verification').length} answered, ${notPending.length} without a true transfer_status`,
    notPending,
  )
  const other = stats.violations.filter((v) => !v.includes('undocumented') && !v.includes('not pending'))
  check('no flow failed unexpectedly', `${input.flowsStarted} flows`, other)
  check(
    'the cron settled every transfer and delivery',
    input.settled ? 'yes' : 'no',
    input.settled ? [] : ['not settled in time', ...stack.cronErrors.map((e) => `cron: ${e}`)],
  )

  // --- 5. documents: one upload per file per submission at sFOX
  const uploadNames = new Map<string, number>()
  for (const u of uploads) uploadNames.set(String(u.name), (uploadNames.get(String(u.name)) ?? 0) + 1)
  const doubled = [...uploadNames].filter(([, n]) => n > 1).map(([name, n]) => `${name}: ${n} uploads`)
  const submissions = samples.filter((s) => s.op === 'upload' && s.status === 202).length
  check(
    'documents: each file reached sFOX once',
    `${uploads.length} files at sFOX, ${submissions} submissions answered 202`,
    doubled,
  )

  // The isolate's live heap after GC grows only by what it compiles and caches once (bounded caches),
  // which a cold process does in its first seconds: so each process is judged from warm (a quarter
  // of the run, or a fifth after the restart) to its last reading, within HEAP_GROWTH_LIMIT_MIB.
  const h = input.heap
  const growth = [h.beforeRestartMib - h.warmMib, h.endMib - h.warmAfterRestartMib]
  const fixed = (n: number) => n.toFixed(2)
  check(
    'Worker isolate heap flat (after GC)',
    `process 1: ${fixed(h.startMib)} cold, ${fixed(h.warmMib)} warm → ${fixed(h.beforeRestartMib)} MiB; process 2: ${fixed(h.afterRestartMib)} cold, ${fixed(h.warmAfterRestartMib)} warm → ${fixed(h.endMib)} MiB (growth ${growth.map((g) => `${g >= 0 ? '+' : ''}${fixed(g)}`).join(', ')}; limit +${HEAP_GROWTH_LIMIT_MIB})`,
    growth.filter((g) => g > HEAP_GROWTH_LIMIT_MIB).map((g) => `grew ${g.toFixed(2)} MiB`),
  )

  // --- figures: load, latency, memory
  const runSeconds = (input.loadEnd - input.runStart) / 1000
  const inRun = samples.filter((s) => s.at >= input.runStart && s.at <= input.loadEnd)
  const byOp = new Map<string, number[]>()
  for (const s of samples) if (typeof s.status === 'number') byOp.set(s.op, [...(byOp.get(s.op) ?? []), s.ms])
  const latency = [...byOp].map(([op, ms]) => {
    const sorted = ms.sort((a, b) => a - b)
    return { op, count: sorted.length, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) }
  })
  const mem = stack.memory.samples
  const mib = (kib: number) => kib / 1024
  const incarnations = [...new Set(mem.map((m) => m.incarnation))].map((i) => {
    const of = mem.filter((m) => m.incarnation === i).map((m) => m.kib)
    return `process ${i}: ${mib(of[0]!).toFixed(0)} → peak ${mib(Math.max(...of)).toFixed(0)} → ${mib(of.at(-1)!).toFixed(0)} MiB (${of.length} samples)`
  })
  const memory = {
    startMib: mem.length ? mib(mem[0]!.kib) : Number.NaN,
    peakMib: mem.length ? mib(Math.max(...mem.map((m) => m.kib))) : Number.NaN,
    endMib: mem.length ? mib(mem.at(-1)!.kib) : Number.NaN,
    perIncarnation: incarnations,
  }
  const statusCountsText = Object.entries(statusCounts)
    .sort()
    .map(([k, n]) => `${k} ${n}`)
    .join(', ')
  // Requests per second in six equal windows of the load phase: held, or sagging as the run goes on?
  const windows = Array.from({ length: 6 }, (_, i) => {
    const from = input.runStart + (i * (input.loadEnd - input.runStart)) / 6
    const to = input.runStart + ((i + 1) * (input.loadEnd - input.runStart)) / 6
    return (inRun.filter((s) => s.at >= from && s.at < to).length / ((to - from) / 1000)).toFixed(1)
  })
  const figures = [
    {
      name: 'load phase',
      value: `${runSeconds.toFixed(1)} s, ${input.flowsStarted} flows, ${partners.length} partners`,
    },
    {
      name: 'requests',
      value: `${samples.length} (${inRun.length} in the load phase: ${(inRun.length / runSeconds).toFixed(1)}/s)`,
    },
    { name: 'requests/s by sixth of the load phase', value: windows.join(', ') },
    { name: 'final statuses', value: statusCountsText },
    {
      name: 'cron runs during load',
      value: `${input.cron.runs} ok, ${input.cron.failures} failed (libSQL or Worker down)`,
    },
    { name: 'sFOX calls through the proxy', value: String(stack.proxy.forwarded()) },
  ]
  const ok = checks.every((c) => c.ok)
  return {
    checks,
    figures,
    latency,
    memory,
    chaos: input.chaos,
    events: input.events,
    flowOutcomes: input.flowOutcomes,
    gone: input.gone,
    ok,
  }
}

/** The report as printed: invariants with their figures, then the load, latency and memory figures. */
export const formatReport = (report: SoakReport): string => {
  const out: string[] = []
  out.push('Fault schedule')
  out.push(report.events.map((e) => `  ${e}`).join('\n'))
  out.push(
    `  provider faults and webhook chaos: ${Object.entries(report.chaos)
      .sort()
      .map(([k, n]) => `${k} ×${n}`)
      .join(', ')}`,
  )
  out.push('')
  out.push(
    table(
      ['invariant', 'result', 'figure'],
      report.checks.map((c) => [c.name, c.ok ? 'PASS' : 'FAIL', c.figure]),
      [1, 2],
    ),
  )
  for (const c of report.checks.filter((c) => !c.ok))
    out.push(`  ${c.name}:\n${c.details.map((d) => `    ${d}`).join('\n')}`)
  out.push('')
  out.push(
    table(
      ['figure', 'value'],
      report.figures.map((f) => [f.name, f.value]),
      [1],
    ),
  )
  out.push('')
  out.push(
    table(
      ['operation', 'requests', 'p50 ms', 'p99 ms'],
      report.latency.map((l) => [l.op, String(l.count), l.p50.toFixed(1), l.p99.toFixed(1)]),
    ),
  )
  out.push('')
  out.push(
    `workerd RSS: start ${report.memory.startMib.toFixed(0)} MiB, peak ${report.memory.peakMib.toFixed(0)} MiB, end ${report.memory.endMib.toFixed(0)} MiB`,
  )
  for (const line of report.memory.perIncarnation) out.push(`  ${line}`)
  out.push('')
  out.push(report.ok ? 'soak: every invariant held' : 'soak: INVARIANTS FAILED')
  return out.join('\n')
}
