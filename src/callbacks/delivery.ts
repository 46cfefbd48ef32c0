import { and, eq, isNull, lt, lte, or, sql } from 'drizzle-orm'
import {
  type Delivery,
  deliveries,
  deliveryAttempts,
  events,
  type WebhookEndpoint,
  webhookEndpoints,
} from '../../db/schema'
import { newId } from '../lib/ids'
import { callbackPoint, writeMetric } from '../lib/metrics'
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

/**
 * One attempt at one delivery, as the queue consumer (and nothing else) makes it. The delivery is
 * claimed first (a lease a little longer than the request timeout), so of several messages for it
 * only one sends; whatever happens is recorded in one batch with the attempt.
 */
export const attemptDelivery = async (services: Services, deliveryId: string): Promise<Outcome> => {
  const { db, settings } = services
  const now = services.now()
  const leaseMs = settings.WEBHOOK_TIMEOUT_MS + 10_000
  const [claimed, joined] = await db.batch([
    db
      .update(deliveries)
      .set({ lockedUntil: now + leaseMs, attempts: sql`${deliveries.attempts} + 1`, updatedAt: now })
      .where(
        and(
          eq(deliveries.id, deliveryId),
          eq(deliveries.status, 'pending'),
          or(isNull(deliveries.nextAttemptAt), lte(deliveries.nextAttemptAt, now + 1000)),
          or(isNull(deliveries.lockedUntil), lt(deliveries.lockedUntil, now)),
        ),
      )
      .returning(),
    db
      .select({ event: events, endpoint: webhookEndpoints })
      .from(deliveries)
      .innerJoin(events, eq(events.id, deliveries.eventId))
      .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, deliveries.endpointId))
      .where(eq(deliveries.id, deliveryId)),
  ])
  const delivery = claimed[0]
  const context = joined[0]
  if (!delivery || !context) return { kind: 'skipped' }
  const { event, endpoint } = context

  // Nothing is sent: the delivery fails without an attempt (and `disable` also stops the endpoint).
  const failUnsent = async (reason: string, disable = false): Promise<Outcome> => {
    await db.batch([
      db
        .update(deliveries)
        .set({
          status: 'failed',
          lockedUntil: null,
          attempts: delivery.attempts - 1,
          lastError: reason,
          updatedAt: now,
        })
        .where(and(eq(deliveries.id, delivery.id), eq(deliveries.lockedUntil, delivery.lockedUntil!))),
      ...(disable
        ? [
            db
              .update(webhookEndpoints)
              .set({ enabled: false, disabledReason: reason, disabledAt: now, updatedAt: now })
              .where(eq(webhookEndpoints.id, endpoint.id)),
          ]
        : []),
    ])
    return { kind: 'failed', reason }
  }
  if (!endpoint.enabled || endpoint.deletedAt !== null)
    return failUnsent(`endpoint disabled: ${endpoint.disabledReason ?? 'disabled'}`)
  // The policy may have tightened since the URL was registered.
  const allowed = checkWebhookUrl(endpoint.url, urlPolicyOf(settings))
  if (!allowed.ok) return failUnsent(`the URL is no longer allowed: it ${allowed.message}`, true)
  const secrets = await signingSecrets(settings.ENCRYPTION_KEY, endpoint, now).catch(() => null)
  if (!secrets)
    return failUnsent('the signing secret cannot be decrypted (was ENCRYPTION_KEY changed?); rotate it', true)

  const body = JSON.stringify(renderEvent(event))
  const timestamp = Math.floor(now / 1000)
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
  const outcome = judge(services, delivery, endpoint, attempt, now)
  await record(services, delivery, endpoint, attempt, outcome, now)
  writeMetric(
    services.metrics,
    callbackPoint({
      partnerId: delivery.partnerId,
      mode: endpoint.mode,
      endpointId: endpoint.id,
      eventType: event.type,
      outcome: outcome.kind,
      status: attempt.statusCode,
      durationMs: attempt.durationMs,
      attempt: delivery.attempts,
    }),
    services.defer,
  )
  // The queue is asked to bring the retry back when it is due; the sweeper backs it up.
  if (outcome.kind === 'retry')
    services.dispatch([delivery.id], Math.min(MAX_QUEUE_DELAY_SECONDS, Math.ceil(outcome.delayMs / 1000)))
  return outcome
}

/** What an attempt means: success, a retry later, or the end (gone, schedule used up, failing too long). */
const judge = (
  services: Services,
  delivery: Delivery,
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

const record = async (
  services: Services,
  delivery: Delivery,
  endpoint: WebhookEndpoint,
  attempt: Attempt,
  outcome: Outcome & { disable?: string },
  now: number,
) => {
  const { db } = services
  const lastError =
    attempt.error ??
    (attempt.statusCode !== null && (attempt.statusCode < 200 || attempt.statusCode >= 300)
      ? `HTTP ${attempt.statusCode}`
      : null)
  const deliveryUpdate = db
    .update(deliveries)
    .set({
      status: outcome.kind === 'delivered' ? 'delivered' : outcome.kind === 'failed' ? 'failed' : 'pending',
      lockedUntil: null,
      // The delay counts from the attempt's end: after a 15 s timeout a 5 s retry is still 5 s away.
      nextAttemptAt: outcome.kind === 'retry' ? now + attempt.durationMs + outcome.delayMs : null,
      lastStatusCode: attempt.statusCode,
      lastError: outcome.kind === 'failed' ? `${outcome.reason}${lastError ? ` (last: ${lastError})` : ''}` : lastError,
      deliveredAt: outcome.kind === 'delivered' ? now : null,
      updatedAt: now,
    })
    // Only while this attempt still holds the delivery: if its lease ran out and another consumer
    // took it over, that consumer's outcome is the one that counts.
    .where(and(eq(deliveries.id, delivery.id), eq(deliveries.lockedUntil, delivery.lockedUntil!)))
  const attemptInsert = db.insert(deliveryAttempts).values({
    id: newId('att', now),
    deliveryId: delivery.id,
    attempt: delivery.attempts,
    startedAt: now,
    durationMs: attempt.durationMs,
    statusCode: attempt.statusCode,
    error: attempt.error,
    responseExcerpt: attempt.excerpt,
  })
  // Only while the endpoint still has the URL this attempt went to: a partner who fixed the URL
  // meanwhile must not have the fixed endpoint disabled by the old one's failure.
  const sameEndpoint = and(eq(webhookEndpoints.id, endpoint.id), eq(webhookEndpoints.url, endpoint.url))
  const streakStart = failingStreakStart(retryPolicy(services), endpoint.failingSince, endpoint.updatedAt, now)
  const endpointUpdate =
    outcome.kind === 'delivered'
      ? db.update(webhookEndpoints).set({ failingSince: null }).where(sameEndpoint)
      : db
          .update(webhookEndpoints)
          .set({
            failingSince: streakStart === now ? now : sql`COALESCE(${webhookEndpoints.failingSince}, ${now})`,
            ...(outcome.disable ? { enabled: false, disabledReason: outcome.disable, disabledAt: now } : {}),
            updatedAt: now,
          })
          .where(sameEndpoint)
  await db.batch([deliveryUpdate, attemptInsert, endpointUpdate])
}
