import { sql } from 'drizzle-orm'
import { bind, compileSql, rowMapper } from '../../db/compiled'
import { deliveries, events, type WebhookEndpoint, webhookEndpoints } from '../../db/schema'
import { newId } from '../lib/ids'
import { callbackPoint, writeMetric } from '../lib/metrics'
import { eachLimited } from '../lib/pool'
import { renderEvent } from '../schemas/callbacks'
import type { Services } from '../services'
import { signingSecrets } from './endpoints'
import { failingStreakStart, nextRetryDelayMs, parseRetryAfter, type RetryPolicy } from './schedule'
import { signatureHeader } from './signing'
import { checkWebhookUrl, urlPolicyOf } from './url-policy'

const EXCERPT_BYTES = 1024
// Cloudflare Queues delay a message by at most 12 hours; later retries are the sweeper's to send.
const MAX_QUEUE_DELAY_SECONDS = 12 * 3600

export type Outcome =
  | { kind: 'skipped' }
  | { kind: 'delivered' }
  | { kind: 'retry'; delayMs: number }
  | { kind: 'failed'; reason: string }

type Attempt = {
  statusCode: number | null
  error: string | null
  excerpt: string | null
  retryAfter: string | null
  durationMs: number
}

/**
 * Receivers called at once by one invocation. A Worker keeps 6 connections open at once and queues
 * the rest while their timeouts already run; 4 leaves room for the database.
 */
export const CONCURRENT_DELIVERIES = 4

/** Deliveries claimed together outside the queue, as many as a queue batch (max_batch_size in wrangler.toml). */
export const DELIVERY_BATCH_SIZE = 50

/**
 * How long a finished attempt may wait for the others of its batch before its outcome is written.
 * Neither a write per attempt (a round trip each) nor one when the whole batch settles (a receiver
 * hanging until WEBHOOK_TIMEOUT_MS would hold every healthy outcome, and its message's ack, for 15 s):
 * whatever has finished is written together this long after the first of it finished, and the rest
 * when the batch ends. A batch of 10 to receivers answering within this costs 2 round trips (claim,
 * write); a hanging receiver adds one write, and delays the others' by this much at most.
 */
export const RECORD_WITHIN_MS = 200

const retryPolicy = (services: Services): RetryPolicy => ({
  scheduleSeconds: services.settings.WEBHOOK_RETRY_SCHEDULE_SECONDS,
  jitter: services.settings.WEBHOOK_RETRY_JITTER,
  minRetryAfterSeconds: Math.min(...services.settings.WEBHOOK_RETRY_SCHEDULE_SECONDS, 5),
  maxRetryAfterSeconds: MAX_QUEUE_DELAY_SECONDS,
})

/** Reads at most the first KiB of an answer: receivers may answer with anything, of any size. */
const excerptOf = async (res: Response): Promise<string> => {
  if (!res.body) return ''
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    while (size < EXCERPT_BYTES) {
      const { done, value } = await reader.read()
      if (done) break
      chunks.push(value)
      size += value.byteLength
    }
  } finally {
    // Also when a read fails (the time-out hit mid-body): the rest of the body is released, not left locked.
    await reader.cancel().catch(() => {})
  }
  const bytes = new Uint8Array(Math.min(size, EXCERPT_BYTES))
  let offset = 0
  for (const chunk of chunks) {
    const part = chunk.subarray(0, bytes.length - offset)
    bytes.set(part, offset)
    offset += part.length
    if (offset >= bytes.length) break
  }
  return new TextDecoder().decode(bytes)
}

const post = async (
  url: string,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
): Promise<Attempt> => {
  const started = Date.now()
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    })
    // The status is the answer: a body that is slow or breaks off only costs the excerpt.
    const excerpt = await excerptOf(res).catch(() => null)
    return {
      statusCode: res.status,
      error: null,
      excerpt,
      retryAfter: res.headers.get('retry-after'),
      durationMs: Date.now() - started,
    }
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')
    return {
      statusCode: null,
      error: timedOut
        ? `no answer within ${timeoutMs} ms`
        : `connection failed: ${error instanceof Error ? error.message : String(error)}`,
      excerpt: null,
      retryAfter: null,
      durationMs: Date.now() - started,
    }
  }
}

const p = sql.placeholder
const listed = sql`SELECT value FROM json_each(${p('ids')})`
// Only while this attempt still holds the delivery: if its lease ran out and another consumer took it
// over, that consumer's outcome is the one that counts.
const holdsLease = sql`EXISTS (SELECT 1 FROM deliveries WHERE id = ${p('deliveryId')} AND locked_until = ${p('lease')})`

/**
 * Claims every listed delivery that is due and not in flight, in one statement: the lease (a
 * `locked_until` that only this claim wrote) is the right to send it and to record what happened, so
 * of several messages or consumers for one delivery only one sends. Answering the doorbell clears
 * `enqueued_at`. Its event and endpoint come in the same batch.
 */
const claimDue = compileSql(sql`
  UPDATE deliveries SET locked_until = ${p('lease')}, attempts = attempts + 1, enqueued_at = NULL, updated_at = ${p('now')}
  WHERE id IN (${listed}) AND status = 'pending'
    AND (next_attempt_at IS NULL OR next_attempt_at <= ${p('dueBy')})
    AND (locked_until IS NULL OR locked_until < ${p('now')})
  RETURNING *`)
const eventsOfClaimed = compileSql(sql`
  SELECT * FROM events WHERE id IN (
    SELECT event_id FROM deliveries WHERE id IN (${listed}) AND locked_until = ${p('lease')})`)
const endpointsOfClaimed = compileSql(sql`
  SELECT * FROM webhook_endpoints WHERE id IN (
    SELECT endpoint_id FROM deliveries WHERE id IN (${listed}) AND locked_until = ${p('lease')})`)

// An outcome's statements, in this order: the delivery's own update clears the lease the others check.
const insertAttempt = compileSql(sql`
  INSERT INTO delivery_attempts (id, delivery_id, attempt, started_at, duration_ms, status_code, error, response_excerpt)
  SELECT ${p('attemptId')}, ${p('deliveryId')}, ${p('attempt')}, ${p('startedAt')}, ${p('durationMs')},
    ${p('statusCode')}, ${p('error')}, ${p('excerpt')}
  WHERE ${holdsLease}`)
// Only while the endpoint still has the URL this attempt went to: a partner who fixed the URL
// meanwhile must not have the fixed endpoint disabled by the old one's failure.
const endpointSucceeded = compileSql(sql`
  UPDATE webhook_endpoints SET failing_since = NULL
  WHERE id = ${p('endpointId')} AND url = ${p('url')} AND ${holdsLease}`)
const endpointFailed = compileSql(sql`
  UPDATE webhook_endpoints SET
    failing_since = CASE WHEN ${p('newStreak')} = 1 THEN ${p('now')} ELSE coalesce(failing_since, ${p('now')}) END,
    enabled = CASE WHEN ${p('disable')} IS NULL THEN enabled ELSE 0 END,
    disabled_reason = coalesce(${p('disable')}, disabled_reason),
    disabled_at = CASE WHEN ${p('disable')} IS NULL THEN disabled_at ELSE ${p('now')} END,
    updated_at = ${p('now')}
  WHERE id = ${p('endpointId')} AND url = ${p('url')} AND ${holdsLease}`)
const recordDelivery = compileSql(sql`
  UPDATE deliveries SET status = ${p('status')}, locked_until = NULL, next_attempt_at = ${p('nextAttemptAt')},
    enqueued_at = ${p('enqueuedAt')}, last_status_code = ${p('statusCode')}, last_error = ${p('lastError')},
    delivered_at = ${p('deliveredAt')}, updated_at = ${p('now')}
  WHERE id = ${p('deliveryId')} AND locked_until = ${p('lease')}`)
// Nothing was sent: no attempt is counted.
const failUnsentDelivery = compileSql(sql`
  UPDATE deliveries SET status = 'failed', locked_until = NULL, attempts = attempts - 1, last_error = ${p('reason')},
    updated_at = ${p('now')}
  WHERE id = ${p('deliveryId')} AND locked_until = ${p('lease')}`)
const disableEndpoint = compileSql(sql`
  UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ${p('reason')}, disabled_at = ${p('now')}, updated_at = ${p('now')}
  WHERE id = ${p('endpointId')} AND ${holdsLease}`)

const toDelivery = rowMapper(deliveries)
const toEvent = rowMapper(events)
const toEndpoint = rowMapper(webhookEndpoints)

// Beyond the time the batch's attempts can take: the database write after the last of them.
const LEASE_MARGIN_MS = 10_000

type Claimed = {
  delivery: typeof deliveries.$inferSelect
  event: typeof events.$inferSelect
  endpoint: WebhookEndpoint
  /** The `locked_until` this claim wrote: every statement recording its outcome checks it. */
  lease: number
}

/** A settled attempt (or a delivery failed unsent), waiting to be written with the others. */
type Finished = {
  id: string
  outcome: Outcome
  statements: ReturnType<typeof bind>[]
  /** Seconds until the queue should bring a retry back; absent when the sweeper will. */
  requeueAfterSeconds?: number
  metric?: AnalyticsEngineDataPoint
}

/** What became of one delivery of a batch: its outcome once recorded, or why it was not recorded. */
export type Settled = { id: string; outcome: Outcome } | { id: string; error: unknown }

export type BatchOptions = {
  /** Whether a retry is brought back by a delayed queue message (false: the sweeper brings it). */
  retriesQueued: boolean
  /** Told of each delivery once its outcome is written (a message may be acked then), or failed to be. */
  onSettled?: (settled: Settled) => void
}

/**
 * The attempts of a queue batch, of a dispatch without a queue, or of any list of delivery ids: all
 * due ones claimed in one database batch, posted signed CONCURRENT_DELIVERIES at a time, and their
 * outcomes written together, one database batch per flush (RECORD_WITHIN_MS). Every delivery is
 * settled exactly once; a claim that fails throws (nothing was settled, nothing sent).
 */
export const deliverBatch = async (
  services: Services,
  deliveryIds: readonly string[],
  options: BatchOptions,
): Promise<Settled[]> => {
  const { settings } = services
  const ids = [...new Set(deliveryIds)]
  const results: Settled[] = []
  const settle = (settled: Settled) => {
    results.push(settled)
    options.onSettled?.(settled)
  }
  if (ids.length === 0) return results
  const now = services.now()
  // The last of the batch may wait for the others: they are posted CONCURRENT_DELIVERIES at a time.
  const waves = Math.ceil(ids.length / CONCURRENT_DELIVERIES)
  const lease = now + waves * settings.WEBHOOK_TIMEOUT_MS + RECORD_WITHIN_MS + LEASE_MARGIN_MS
  const values = { ids: JSON.stringify(ids), lease, now, dueBy: now + 1000 }
  const [claimedRows, eventRows, endpointRows] = await services.db.pipeline.batch([
    bind(claimDue, values),
    bind(eventsOfClaimed, values),
    bind(endpointsOfClaimed, values),
  ])
  const eventById = new Map(eventRows!.rows.map((row) => [String(row.id), toEvent(row)]))
  const endpointById = new Map(endpointRows!.rows.map((row) => [String(row.id), toEndpoint(row)]))
  const claimed: Claimed[] = []
  for (const row of claimedRows!.rows) {
    const delivery = toDelivery(row)
    const event = eventById.get(delivery.eventId)
    const endpoint = endpointById.get(delivery.endpointId)
    if (event && endpoint) claimed.push({ delivery, event, endpoint, lease })
  }
  const taken = new Set(claimed.map((c) => c.delivery.id))
  // Done, not due, or in flight elsewhere: nothing to send, nothing to write.
  for (const id of ids) if (!taken.has(id)) settle({ id, outcome: { kind: 'skipped' } })

  const recorder = coalescingWriter(
    (finished: Finished[]) => writeOutcomes(services, finished, settle),
    RECORD_WITHIN_MS,
  )
  const secretsOf = new Map<string, Promise<string[] | null>>()
  await eachLimited(claimed, CONCURRENT_DELIVERIES, async (c) => {
    try {
      recorder.add(await attemptOne(services, c, secretsOf, options.retriesQueued))
    } catch (error) {
      // Not recorded: the lease runs out and the sweeper sends it again.
      settle({ id: c.delivery.id, error })
    }
  })
  await recorder.flush()
  return results
}

/**
 * Collects items and hands them to `write` together: `withinMs` after the first of them started
 * waiting, or at `flush()`, whichever comes first. Writes run one after another; `flush()` resolves
 * once everything added before it is written.
 */
export const coalescingWriter = <T>(write: (items: T[]) => Promise<void>, withinMs: number) => {
  let waiting: T[] = []
  let timer: ReturnType<typeof setTimeout> | undefined
  let written = Promise.resolve()
  const flush = () => {
    clearTimeout(timer)
    timer = undefined
    const due = waiting
    waiting = []
    if (due.length) written = written.then(() => write(due))
    return written
  }
  return {
    add: (item: T) => {
      waiting.push(item)
      timer ??= setTimeout(flush, withinMs)
    },
    flush,
  }
}

/** Writes finished outcomes in one batch; then their metrics, their retries' queue messages, and tells the caller. */
const writeOutcomes = async (services: Services, finished: Finished[], settle: (s: Settled) => void) => {
  try {
    await services.db.pipeline.batch(finished.flatMap((f) => f.statements))
  } catch (error) {
    for (const f of finished) settle({ id: f.id, error })
    return
  }
  const requeue = new Map<number, string[]>()
  for (const f of finished) {
    if (f.metric) writeMetric(services.metrics, f.metric, services.defer)
    if (f.requeueAfterSeconds !== undefined) {
      const ids = requeue.get(f.requeueAfterSeconds) ?? []
      requeue.set(f.requeueAfterSeconds, [...ids, f.id])
    }
  }
  // The queue is asked to bring each retry back when it is due; the sweeper backs it up.
  for (const [delaySeconds, ids] of requeue) services.dispatch(ids, delaySeconds)
  for (const f of finished) settle({ id: f.id, outcome: f.outcome })
}

/** One claimed delivery: checked, signed and posted, or failed without sending. */
const attemptOne = async (
  services: Services,
  claimed: Claimed,
  secretsOf: Map<string, Promise<string[] | null>>,
  retriesQueued: boolean,
): Promise<Finished> => {
  const { settings } = services
  const { delivery, event, endpoint, lease } = claimed
  const startedAt = services.now()
  // Nothing is sent: the delivery fails without an attempt (and `disable` also stops the endpoint).
  const failUnsent = (reason: string, disable = false): Finished => {
    const values = { deliveryId: delivery.id, endpointId: endpoint.id, lease, reason, now: startedAt }
    return {
      id: delivery.id,
      outcome: { kind: 'failed', reason },
      statements: [...(disable ? [bind(disableEndpoint, values)] : []), bind(failUnsentDelivery, values)],
    }
  }
  if (!endpoint.enabled || endpoint.deletedAt !== null)
    return failUnsent(`endpoint disabled: ${endpoint.disabledReason ?? 'disabled'}`)
  // The policy may have tightened since the URL was registered.
  const allowed = checkWebhookUrl(endpoint.url, urlPolicyOf(settings))
  if (!allowed.ok) return failUnsent(`the URL is no longer allowed: it ${allowed.message}`, true)
  // Deliveries of a batch often share an endpoint: its secrets are opened once.
  let opening = secretsOf.get(endpoint.id)
  if (!opening) {
    opening = signingSecrets(settings.ENCRYPTION_KEY, endpoint, startedAt).catch(() => null)
    secretsOf.set(endpoint.id, opening)
  }
  const secrets = await opening
  if (!secrets)
    return failUnsent('the signing secret cannot be decrypted (was ENCRYPTION_KEY changed?); rotate it', true)

  const body = JSON.stringify(renderEvent(event))
  const timestamp = Math.floor(startedAt / 1000)
  const attempt = await post(
    endpoint.url,
    {
      'content-type': 'application/json',
      'user-agent': 'transfer-gateway-webhooks/1',
      'webhook-id': event.id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': await signatureHeader(secrets, event.id, timestamp, body),
    },
    body,
    settings.WEBHOOK_TIMEOUT_MS,
  )
  const outcome = judge(services, delivery, endpoint, attempt, startedAt)
  const requeueAfterSeconds =
    outcome.kind === 'retry' && retriesQueued && outcome.delayMs <= MAX_QUEUE_DELAY_SECONDS * 1000
      ? Math.ceil(outcome.delayMs / 1000)
      : undefined
  return {
    id: delivery.id,
    outcome,
    statements: outcomeStatements(services, claimed, attempt, outcome, startedAt, requeueAfterSeconds !== undefined),
    requeueAfterSeconds,
    metric: callbackPoint({
      partnerId: delivery.partnerId,
      mode: endpoint.mode,
      endpointId: endpoint.id,
      eventType: event.type,
      outcome: outcome.kind,
      status: attempt.statusCode,
      durationMs: attempt.durationMs,
      attempt: delivery.attempts,
    }),
  }
}

/** What an attempt means: success, a retry later, or the end (gone, schedule used up, failing too long). */
const judge = (
  services: Services,
  delivery: Claimed['delivery'],
  endpoint: WebhookEndpoint,
  attempt: Attempt,
  now: number,
): Outcome & { disable?: string } => {
  const code = attempt.statusCode
  if (code !== null && code >= 200 && code < 300) return { kind: 'delivered' }
  if (code === 410) {
    const reason = 'the receiver answered 410 Gone'
    return { kind: 'failed', reason, disable: reason }
  }
  const failingSince = failingStreakStart(retryPolicy(services), endpoint.failingSince, endpoint.updatedAt, now)
  const limitMs = services.settings.WEBHOOK_DISABLE_AFTER_SECONDS * 1000
  if (now - failingSince >= limitMs) {
    const reason = `every delivery failed for ${Math.round(limitMs / 3600_000)} h (since ${new Date(failingSince).toISOString()})`
    return { kind: 'failed', reason, disable: reason }
  }
  const delayMs = nextRetryDelayMs(retryPolicy(services), delivery.attempts, parseRetryAfter(attempt.retryAfter, now))
  if (delayMs === null) return { kind: 'failed', reason: `gave up after ${delivery.attempts} attempts` }
  return { kind: 'retry', delayMs }
}

/** The attempt's row, the endpoint's failing streak (or its end) and the delivery's new state. */
const outcomeStatements = (
  services: Services,
  { delivery, endpoint, lease }: Claimed,
  attempt: Attempt,
  outcome: Outcome & { disable?: string },
  now: number,
  requeued: boolean,
) => {
  const lastError =
    attempt.error ??
    (attempt.statusCode !== null && (attempt.statusCode < 200 || attempt.statusCode >= 300)
      ? `HTTP ${attempt.statusCode}`
      : null)
  // The delay counts from the attempt's end: after a 15 s timeout a 5 s retry is still 5 s away.
  const nextAttemptAt = outcome.kind === 'retry' ? now + attempt.durationMs + outcome.delayMs : null
  const guard = { deliveryId: delivery.id, lease, now }
  const endpointValues = { ...guard, endpointId: endpoint.id, url: endpoint.url }
  const streakStart = failingStreakStart(retryPolicy(services), endpoint.failingSince, endpoint.updatedAt, now)
  return [
    bind(insertAttempt, {
      ...guard,
      attemptId: newId('att', now),
      attempt: delivery.attempts,
      startedAt: now,
      durationMs: attempt.durationMs,
      statusCode: attempt.statusCode,
      error: attempt.error,
      excerpt: attempt.excerpt,
    }),
    outcome.kind === 'delivered'
      ? bind(endpointSucceeded, endpointValues)
      : bind(endpointFailed, {
          ...endpointValues,
          newStreak: streakStart === now ? 1 : 0,
          disable: 'disable' in outcome ? (outcome.disable ?? null) : null,
        }),
    bind(recordDelivery, {
      ...guard,
      status: outcome.kind === 'delivered' ? 'delivered' : outcome.kind === 'failed' ? 'failed' : 'pending',
      nextAttemptAt,
      // The retry's queue message rings when it is due: until then (and a while after) the sweeper leaves it.
      enqueuedAt: requeued ? nextAttemptAt : null,
      statusCode: attempt.statusCode,
      lastError: outcome.kind === 'failed' ? `${outcome.reason}${lastError ? ` (last: ${lastError})` : ''}` : lastError,
      deliveredAt: outcome.kind === 'delivered' ? now : null,
    }),
  ]
}
