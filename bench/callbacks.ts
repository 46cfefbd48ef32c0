import { Webhook } from 'standardwebhooks'
import { CONCURRENT_DELIVERIES } from '../src/callbacks/delivery'
import { gatewayOps, setupPartner } from './gateway'
import { expect, getInit, httpTransport, jsonInit } from './http'
import { runConcurrent } from './load'
import { type Measured, measure, settledRoundTrips } from './measure'
import type { BenchOptions } from './options'
import type { Receiver } from './receiver'
import type { Stack } from './stack'
import { type Summary, summarize } from './stats'

/** Each status change of the callback runs is an sFOX PAYOUT create, which announces these two. */
export const PAYOUT_EVENTS = ['transfer.created', 'transfer.completed'] as const

export type LatencySummary = Pick<Summary, 'count' | 'p50' | 'p99' | 'mean' | 'min' | 'max'>

export type CallbackRun = {
  label: string
  statusChanges: number
  /** Status-changing requests in flight. */
  concurrency: number
  /** Each status change waits for its callbacks before the next starts (no backlog: pure latency). */
  closedLoop: boolean
  receiverDelayMs: number
  expected: number
  received: number
  /** Callbacks that arrived twice (same webhook-id): retries; 0 when every first answer was 200. */
  duplicates: number
  /** Status changes whose transfer.completed arrived before their transfer.created (events carry `sequence`). */
  outOfOrder: number
  /** The most callbacks open at the receiver at once: the deliveries the gateway had in flight. */
  maxInFlight: number
  /** The PAYOUT creates as the load generator saw them (ms; ops/s from first sent to last answered). */
  requests: Summary
  /** From the moment the gateway answered the status change to the callback's arrival, ms. */
  latency: Record<(typeof PAYOUT_EVENTS)[number] | 'all', LatencySummary>
  firstToLastReceiptMs: number
  /** Callbacks per second at the receiver, from its first receipt to its last. */
  deliveriesPerSec: number
  /** Callbacks per second from the first status change sent to the last callback received. */
  endToEndPerSec: number
  /** From the last status change answered to the last callback received, ms. */
  drainMs: number
  /** Callbacks per second received after the last status change was answered (the backlog alone, no requests competing). */
  drainPerSec: number
  /** Everything the libSQL server served during the run (status changes and deliveries). */
  roundTrips: number
  /** (roundTrips - statusChanges x a PAYOUT create's own round trips) / callbacks received. */
  roundTripsPerDelivery: number
  signatures: { checked: number; verified: number }
}

/** Targets of the burst: at least this share of the machine's limit (LimitRun), at most this many DB round trips per delivery. */
export const CALLBACK_LIMIT_SHARE_TARGET = 0.5
export const CALLBACK_ROUND_TRIPS_TARGET = 0.5

/**
 * The limit of this machine for the burst: the same callbacks (the gateway's own payloads, webhook-ids
 * and secret) signed with the `standardwebhooks` package and POSTed by a plain Node loop, no gateway
 * and no database, to the same receiver, as many in flight as the gateway sends here (LIMIT_CONCURRENCY).
 */
export type LimitRun = {
  deliveries: number
  concurrency: number
  received: number
  /** Callbacks per second at the receiver, from its first receipt to its last (as for the gateway). */
  deliveriesPerSec: number
  /** From the first POST sent to the last answered, ms. */
  elapsedMs: number
  signatures: { checked: number; verified: number }
}

/**
 * The gateway's own delivery rate with nothing else to do: the burst's callbacks, which a second
 * endpoint (disabled by a 410 before the burst) missed, recovered in one call once it is fixed, so
 * every delivery is queued at once as the limit's payloads are ready at once.
 */
export type BacklogRun = {
  deliveries: number
  received: number
  /** Callbacks per second at the receiver, from its first receipt to its last. */
  deliveriesPerSec: number
  /** From the recover call answered to each callback's arrival, ms. */
  latency: LatencySummary
  maxInFlight: number
  duplicates: number
  /** Everything the libSQL server served from the PATCH that fixes the endpoint to the last outcome. */
  roundTrips: number
  roundTripsPerDelivery: number
  signatures: { checked: number; verified: number }
}

export type CallbackResults = {
  /** PAYOUT creates while no endpoint is registered: what the status change itself costs in round trips. */
  createAlone: Measured
  latency: CallbackRun
  burst: CallbackRun
  delayed: CallbackRun | null
  /**
   * Run right after the burst on its payloads, and again right after the backlog: the faster of the
   * two (this machine is shared; its load moves within seconds). `limitRuns` has both.
   */
  limit: LimitRun
  limitRuns: [LimitRun, LimitRun]
  /** Right after the limit, the same callbacks. */
  backlog: BacklogRun
}

type Progress = (line: string) => void

const latencyOf = (values: number[]): LatencySummary => {
  const { count, p50, p99, mean, min, max } = summarize(values, 0)
  return { count, p50, p99, mean, min, max }
}

/** Receipts after `from`, per second, over the time from `from` to the last of them (NaN for fewer than 10). */
const drainRate = (arrivals: number[], from: number) => {
  const after = arrivals.filter((at) => at > from)
  return after.length >= 10 ? (after.length * 1000) / (Math.max(...after) - from) : Number.NaN
}

/** Callbacks per second at the receiver from its first receipt to its last (NaN for fewer than 2). */
const receiptRate = (arrivals: number[]) => {
  const [first, last] = [Math.min(...arrivals), Math.max(...arrivals)]
  return last > first ? ((arrivals.length - 1) * 1000) / (last - first) : Number.NaN
}

/**
 * The gateway's own concurrency here: Miniflare's queue broker dispatches a batch once the one before
 * is acked, and an invocation calls at most CONCURRENT_DELIVERIES receivers at once.
 */
export const LIMIT_CONCURRENCY = CONCURRENT_DELIVERIES

/** See LimitRun. Each POST is signed when it is sent, as the gateway signs each attempt. */
const runLimit = async (
  receiver: Receiver,
  secret: string,
  payloads: { webhookId: string; body: string }[],
  concurrency: number,
): Promise<LimitRun> => {
  receiver.reset()
  const webhook = new Webhook(secret)
  const started = performance.now()
  await runConcurrent(payloads.length, concurrency, async (i) => {
    const { webhookId, body } = payloads[i]!
    const at = new Date()
    const res = await fetch(receiver.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'transfer-gateway-bench-limit/1',
        'webhook-id': webhookId,
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': webhook.sign(webhookId, at, body),
      },
      body,
    })
    await res.text()
    if (res.status !== 200) throw new Error(`limit run: the receiver answered ${res.status}`)
  })
  const elapsedMs = performance.now() - started
  const receipts = receiver.receipts()
  return {
    deliveries: payloads.length,
    concurrency,
    received: receipts.length,
    deliveriesPerSec: receiptRate(receipts.map((r) => r.at)),
    elapsedMs,
    signatures: receiver.signatures(),
  }
}

// Generous: a healthy local run drains in a few seconds; a stuck one fails the bench instead of hanging it.
const CLOSED_LOOP_TIMEOUT_MS = 10_000
const DRAIN_TIMEOUT_MS = 60_000

/**
 * Callbacks to partners, end to end: a partner of its own (so the op phases never produce
 * deliveries) with one webhook endpoint pointing at the bench's receiver. Status changes are sFOX
 * PAYOUT creates, each answered "completed" and announcing transfer.created and transfer.completed,
 * which the gateway commits with the transfer (outbox), enqueues after answering, and its queue
 * consumer posts, signed, to the receiver. Three runs: one status change at a time, waiting for
 * its callbacks (latency); a burst as fast as the gateway takes it (throughput); the same burst
 * with a receiver that takes `callbackDelayMs` to answer.
 */
export const runCallbacks = async (
  stack: Stack,
  options: BenchOptions,
  progress: Progress,
): Promise<CallbackResults> => {
  const { libsql, sfox, receiver } = stack
  const http = httpTransport('gateway', stack.gateway.url)
  const account = await sfox.newAccount()
  const partner = await setupPartner(
    http,
    stack.gateway.adminToken,
    { sfox: { url: sfox.url, apiKey: account.api_key } },
    'Bench callbacks partner',
  )
  let key = await partner.issueKey()
  const gw = gatewayOps(http, () => key)
  // As in the op phases: every run starts with a new key already in the key cache.
  const freshKey = async () => {
    key = await partner.issueKey()
    await gw.prime()
  }

  progress(`callbacks: ${options.warmup} PAYOUT creates with no receiver registered (their own DB round trips)`)
  await freshKey()
  const createAlone = await measure(libsql, options.warmup, 1, (i) => gw.payout(`cb-alone-${i}`))

  const run = async (
    label: string,
    statusChanges: number,
    concurrency: number,
    receiverDelayMs: number,
    closedLoop: boolean,
  ): Promise<CallbackRun> => {
    receiver.reset()
    receiver.setDelay(receiverDelayMs)
    await freshKey()
    const ids = Array.from({ length: statusChanges }, (_, i) => `cb-${label}-${i}`)
    const sentAt = new Array<number>(statusChanges)
    const answeredAt = new Array<number>(statusChanges)
    const expected = statusChanges * PAYOUT_EVENTS.length
    libsql.resetStats()
    await runConcurrent(statusChanges, concurrency, async (i) => {
      const id = ids[i]!
      sentAt[i] = performance.now()
      answeredAt[i] = await gw.payout(id)
      if (closedLoop)
        await receiver.waitFor(
          PAYOUT_EVENTS.map((type) => [id, type] as const),
          CLOSED_LOOP_TIMEOUT_MS,
        )
    })
    await receiver.waitFor(
      ids.flatMap((id) => PAYOUT_EVENTS.map((type) => [id, type] as const)),
      DRAIN_TIMEOUT_MS,
    )
    // A delivery records its outcome after the receiver answered: only then can the counter settle.
    while (receiver.open() > 0) await new Promise((resolve) => setTimeout(resolve, 5))
    const roundTrips = await settledRoundTrips(libsql)

    const receipts = receiver.receipts()
    const perType = Object.fromEntries(
      PAYOUT_EVENTS.map((type) => [type, ids.map((id, i) => receiver.arrival(id, type)!.at - answeredAt[i]!)]),
    ) as Record<(typeof PAYOUT_EVENTS)[number], number[]>
    const firstSent = Math.min(...sentAt)
    const lastAnswered = Math.max(...answeredAt)
    const arrivals = receipts.map((r) => r.at)
    const [firstReceipt, lastReceipt] = [Math.min(...arrivals), Math.max(...arrivals)]
    const requests = summarize(
      sentAt.map((s, i) => answeredAt[i]! - s),
      lastAnswered - firstSent,
    )
    const deliveryRoundTrips = roundTrips - statusChanges * createAlone.roundTripsPerOp
    return {
      label,
      statusChanges,
      concurrency,
      closedLoop,
      receiverDelayMs,
      expected,
      received: receipts.length,
      duplicates: receiver.duplicates(),
      outOfOrder: ids.filter(
        (id) => receiver.arrival(id, 'transfer.completed')!.at < receiver.arrival(id, 'transfer.created')!.at,
      ).length,
      maxInFlight: receiver.maxInFlight(),
      requests,
      latency: {
        'transfer.created': latencyOf(perType['transfer.created']),
        'transfer.completed': latencyOf(perType['transfer.completed']),
        all: latencyOf(Object.values(perType).flat()),
      },
      firstToLastReceiptMs: lastReceipt - firstReceipt,
      deliveriesPerSec: receiptRate(arrivals),
      endToEndPerSec: (receipts.length * 1000) / (lastReceipt - firstSent),
      drainMs: lastReceipt - lastAnswered,
      drainPerSec: drainRate(arrivals, lastAnswered),
      roundTrips,
      roundTripsPerDelivery: deliveryRoundTrips / receipts.length,
      signatures: receiver.signatures(),
    }
  }

  const secret = await gw.registerEndpoint(receiver.url)
  receiver.trust(secret)
  progress(`callbacks: warm-up, ${options.warmup} status changes`)
  await run('warm', options.warmup, options.concurrency, 0, false)

  // The backlog run's endpoint: disabled by a 410 now, so the burst's events are recorded for it as failed, unsent.
  const gone = JSON.parse(
    await expect(
      http.fetch(
        '/v1/webhook-endpoints',
        jsonInit('POST', { url: receiver.goneUrl, description: 'bench backlog' }, key),
      ),
      201,
      'backlog webhook endpoint',
    ),
  ) as { id: string; secret: string }
  const goneEndpoint = async () =>
    JSON.parse(await expect(http.fetch(`/v1/webhook-endpoints/${gone.id}`, getInit(key)), 200, 'backlog endpoint')) as {
      enabled: boolean
    }
  await gw.payout('cb-gone-trigger')
  for (const deadline = Date.now() + CLOSED_LOOP_TIMEOUT_MS; (await goneEndpoint()).enabled; ) {
    if (Date.now() > deadline) throw new Error('the backlog endpoint was not disabled by its 410')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  await receiver.waitFor(
    PAYOUT_EVENTS.map((type) => ['cb-gone-trigger', type] as const),
    CLOSED_LOOP_TIMEOUT_MS,
  )

  progress(`callbacks: latency, ${options.callbacksN} status changes one at a time`)
  const latency = await run('latency', options.callbacksN, 1, 0, true)
  const burstChanges = Math.ceil(options.callbacksBurst / PAYOUT_EVENTS.length)
  progress(
    `callbacks: burst, ${burstChanges} status changes (${burstChanges * PAYOUT_EVENTS.length} callbacks), ${options.burstConcurrency} in flight`,
  )
  const burstStartedAt = Date.now()
  const burst = await run('burst', burstChanges, options.burstConcurrency, 0, false)
  // Right after the burst, on its payloads: the machine's own limit for the same work.
  const payloads = receiver.receipts().map(({ webhookId, body }) => ({ webhookId, body }))
  progress(
    `callbacks: the limit, the burst's ${payloads.length} callbacks signed and posted by a plain Node loop, ${LIMIT_CONCURRENCY} in flight (the gateway's own)`,
  )
  const limitBefore = await runLimit(receiver, secret, payloads, LIMIT_CONCURRENCY)

  progress(
    `callbacks: backlog, the burst's ${payloads.length} callbacks recovered at once for the endpoint that missed them`,
  )
  receiver.reset()
  receiver.trust(gone.secret)
  libsql.resetStats()
  await expect(
    http.fetch(`/v1/webhook-endpoints/${gone.id}`, jsonInit('PATCH', { url: receiver.url, enabled: true }, key)),
    200,
    'backlog endpoint fixed',
  )
  const recovered = await http.fetch(
    `/v1/webhook-endpoints/${gone.id}/recover`,
    jsonInit('POST', { since: new Date(burstStartedAt).toISOString() }, key),
  )
  const recoveredAt = performance.now()
  const requeued = (
    JSON.parse(await expect(Promise.resolve(recovered), 202, 'backlog recover')) as {
      deliveries_requeued: number
    }
  ).deliveries_requeued
  if (requeued !== payloads.length) throw new Error(`backlog: ${requeued} requeued, expected ${payloads.length}`)
  const burstIds = Array.from({ length: burstChanges }, (_, i) => `cb-burst-${i}`)
  await receiver.waitFor(
    burstIds.flatMap((id) => PAYOUT_EVENTS.map((type) => [id, type] as const)),
    DRAIN_TIMEOUT_MS,
  )
  while (receiver.open() > 0) await new Promise((resolve) => setTimeout(resolve, 5))
  const backlogRoundTrips = await settledRoundTrips(libsql)
  const backlogReceipts = receiver.receipts()
  const backlog: BacklogRun = {
    deliveries: requeued,
    received: backlogReceipts.length,
    deliveriesPerSec: receiptRate(backlogReceipts.map((r) => r.at)),
    latency: latencyOf(backlogReceipts.map((r) => r.at - recoveredAt)),
    maxInFlight: receiver.maxInFlight(),
    duplicates: receiver.duplicates(),
    roundTrips: backlogRoundTrips,
    roundTripsPerDelivery: backlogRoundTrips / backlogReceipts.length,
    signatures: receiver.signatures(),
  }
  // The partner's own choice from now on: it gets nothing more (the delayed burst is the first endpoint's alone).
  await expect(
    http.fetch(`/v1/webhook-endpoints/${gone.id}`, jsonInit('PATCH', { enabled: false }, key)),
    200,
    'backlog endpoint paused',
  )
  receiver.trust(secret)
  progress('callbacks: the limit again, right after the backlog')
  const limitAfter = await runLimit(receiver, secret, payloads, LIMIT_CONCURRENCY)
  const limit = limitAfter.deliveriesPerSec > limitBefore.deliveriesPerSec ? limitAfter : limitBefore
  let delayed: CallbackRun | null = null
  if (options.callbackDelayMs > 0) {
    progress(`callbacks: the same burst, the receiver answering after ${options.callbackDelayMs} ms`)
    delayed = await run('delayed', burstChanges, options.burstConcurrency, options.callbackDelayMs, false)
  }
  receiver.setDelay(0)
  return { createAlone, latency, burst, delayed, limit, limitRuns: [limitBefore, limitAfter], backlog }
}
