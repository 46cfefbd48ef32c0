import { and, eq, sql } from 'drizzle-orm'
import type { Db } from '../../../db/client'
import { bind, compile, compileSql } from '../../../db/compiled'
import { type Transfer, transfers } from '../../../db/schema'
import type { ProviderFacts, ProviderName } from '../../providers/provider'
import { PROVIDER_FACTS } from '../../providers/registry'
import type { Owner } from '../../services'
import { keyOf, keyValues, p, pendingNow, perProvider, toTransfer } from './statements'

// Confirm attempts and resends: each taken by one conditional UPDATE, given back when the provider
// did not judge the code or refused the send.

// Where the gateway cancels on its own side, the confirm also takes the lease (see transition), and
// only one confirm may hold it: a second one at the provider at the same time could outlive the
// first one's release and let a cancel slip in while it is still being judged.
const takeAttempt = compile((b) =>
  b
    .update(transfers)
    .set({
      attemptsRemaining: sql`${transfers.attemptsRemaining} - 1`,
      leaseUntil: perProvider((name) =>
        PROVIDER_FACTS[name].gatewaySideCancel ? sql`${p('leaseUntil')}` : sql`${transfers.leaseUntil}`,
      ),
      updatedAt: p('now') as unknown as number,
    })
    .where(
      and(
        keyOf(),
        pendingNow(),
        sql`${transfers.attemptsRemaining} > 0`,
        sql`${perProvider((name) =>
          PROVIDER_FACTS[name].gatewaySideCancel
            ? sql`(${transfers.leaseUntil} IS NULL OR ${transfers.leaseUntil} < ${p('now')})`
            : sql`1`,
        )} = 1`,
      ),
    )
    .returning(),
)
// Only read when the UPDATE took nothing: then it explains why.
const explainRefusal = compileSql(
  sql`SELECT * FROM transfers WHERE partner_id = ${p('partnerId')} AND mode = ${p('mode')} AND transfer_id = ${p('transferId')} AND changes() = 0`,
)

/** Takes one confirm attempt if the transfer can use one; `current` explains a refusal. */
export const claimConfirmAttempt = async (
  db: Db,
  owner: Owner,
  transferId: string,
  now: number,
  leaseUntil: number,
) => {
  const values = { ...keyValues(owner, transferId), now, leaseUntil }
  const [claimed, current] = await db.pipeline.batch([bind(takeAttempt, values), bind(explainRefusal, values)])
  const row = claimed!.rows.map(toTransfer)[0]
  return { claimed: row, current: row ?? current!.rows.map(toTransfer)[0] }
}

/** This confirm's lease only: `heldLease` is the value its claim wrote. */
const ownLeaseReleased = () =>
  sql`CASE WHEN ${transfers.leaseUntil} = ${p('heldLease')} THEN NULL ELSE ${transfers.leaseUntil} END`

// Give-backs run on the lean pipeline like the claims: a wrong code or a refused send is a hot path too.
const refundAttempt = (keepLease: boolean) =>
  compile((b) =>
    b
      .update(transfers)
      .set({
        attemptsRemaining: sql`${transfers.attemptsRemaining} + 1`,
        ...(keepLease ? {} : { leaseUntil: ownLeaseReleased() as unknown as number }),
        updatedAt: p('now') as unknown as number,
      })
      .where(and(eq(transfers.id, p('id')), eq(transfers.status, 'pending_verification'))),
  )
const refundAttemptReleasingLease = refundAttempt(false)
const refundAttemptKeepingLease = refundAttempt(true)

/**
 * Gives back an attempt the provider did not judge (expired code, outage). The confirm's lease is
 * released, unless `keepLease`: when the outcome is unknown (a timeout, an answer lost or not
 * authentic) the provider may still be approving, so the lease runs out on its own.
 */
export const refundConfirmAttempt = (db: Db, id: string, now: number, heldLease: number, keepLease = false) =>
  db.pipeline.execute(bind(keepLease ? refundAttemptKeepingLease : refundAttemptReleasingLease, { id, now, heldLease }))

const leaseReleased = compile((b) =>
  b
    .update(transfers)
    .set({ leaseUntil: null })
    .where(and(eq(transfers.id, p('id')), eq(transfers.leaseUntil, p('heldLease')))),
)

/** The confirm is over (a wrong code changes nothing else): its own lease is given back. */
export const releaseLease = (db: Db, id: string, heldLease: number) =>
  db.pipeline.execute(bind(leaseReleased, { id, heldLease }))

// What a refused resend is explained with, and what a failed send gives back.
const resendBefore = compile((b) =>
  b
    .select({
      id: transfers.id,
      provider: transfers.provider,
      status: transfers.status,
      resendsUsed: transfers.resendsUsed,
      resendLimit: transfers.resendLimit,
      resendCooldownMs: transfers.resendCooldownMs,
      attemptsRemaining: transfers.attemptsRemaining,
      expiresAt: transfers.expiresAt,
      codeSentAt: transfers.codeSentAt,
      codeExpiresAt: transfers.codeExpiresAt,
      verificationChannel: transfers.verificationChannel,
    })
    .from(transfers)
    .where(keyOf()),
)
export type ResendPrevious = Pick<
  Transfer,
  | 'id'
  | 'provider'
  | 'status'
  | 'resendsUsed'
  | 'resendLimit'
  | 'resendCooldownMs'
  | 'attemptsRemaining'
  | 'expiresAt'
  | 'codeSentAt'
  | 'codeExpiresAt'
  | 'verificationChannel'
>

const takeResend = (withChannel: boolean) =>
  compile((b) =>
    b
      .update(transfers)
      .set({
        resendsUsed: sql`${transfers.resendsUsed} + 1`,
        codeSentAt: p('now') as unknown as number,
        // Whether a code expires is the provider's; how long it lives may be a setting (bound per call).
        codeExpiresAt: perProvider((name) =>
          PROVIDER_FACTS[name].codeTtlMs === null ? sql`NULL` : sql`${p('now')} + ${p(`ttl_${name}`)}`,
        ),
        ...(withChannel ? { verificationChannel: p('channel') as unknown as string } : {}),
        updatedAt: p('now') as unknown as number,
      })
      .where(
        and(
          keyOf(),
          pendingNow(),
          sql`${transfers.resendsUsed} < ${transfers.resendLimit}`,
          sql`${transfers.attemptsRemaining} > 0`,
          // "No cooldown" must not refuse a request whose clock read is a hair older than a concurrent send's.
          sql`(${transfers.resendCooldownMs} = 0 OR ${transfers.codeSentAt} IS NULL OR ${transfers.codeSentAt} + ${transfers.resendCooldownMs} <= ${p('now')})`,
          withChannel
            ? sql`${perProvider(
                (name) =>
                  sql`${p('channel')} IN (${sql.join(
                    PROVIDER_FACTS[name].channels.map((c) => sql`${c}`),
                    sql`, `,
                  )})`,
              )} = 1`
            : undefined,
        ),
      )
      .returning(),
  )
const takeResendKeepingChannel = takeResend(false)
const takeResendOnChannel = takeResend(true)

/**
 * Takes one resend if quota, cooldown, attempts and the provider's channels allow, stamping the new
 * code's send time and expiry. `previous` (read in the same transaction, before the UPDATE) explains
 * a refusal and lets a failed send be given back.
 */
export const claimResend = async (
  db: Db,
  owner: Owner,
  transferId: string,
  now: number,
  channel: string | undefined,
  facts: Record<ProviderName, ProviderFacts>,
) => {
  const ttls = Object.fromEntries(Object.entries(facts).map(([name, f]) => [`ttl_${name}`, f.codeTtlMs]))
  const values = { ...keyValues(owner, transferId), now, channel: channel ?? null, ...ttls }
  const [previous, claimed] = await db.pipeline.batch([
    bind(resendBefore, values),
    bind(channel ? takeResendOnChannel : takeResendKeepingChannel, values),
  ])
  return {
    // Mapped like a full row; only the selected columns are read.
    previous: previous!.rows.map(toTransfer)[0] as ResendPrevious | undefined,
    claimed: claimed!.rows.map(toTransfer)[0],
  }
}

const resendRefunded = compile((b) =>
  b
    .update(transfers)
    .set({ resendsUsed: sql`MAX(${transfers.resendsUsed} - 1, 0)`, updatedAt: p('now') as unknown as number })
    .where(eq(transfers.id, p('id'))),
)
// The code's send time, expiry and channel go back only if no other send stamped them since.
const resendStampRestored = compile((b) =>
  b
    .update(transfers)
    .set({
      codeSentAt: p('codeSentAt') as unknown as number,
      codeExpiresAt: p('codeExpiresAt') as unknown as number,
      verificationChannel: p('verificationChannel') as unknown as string,
    })
    .where(and(eq(transfers.id, p('id')), eq(transfers.codeSentAt, p('claimedAt')))),
)

/** A resend the provider refused does not use the partner's quota: undo it if nothing moved since. */
export const refundResend = (db: Db, previous: ResendPrevious, claimedAt: number, now: number) => {
  const values = {
    id: previous.id,
    now,
    claimedAt,
    codeSentAt: previous.codeSentAt,
    codeExpiresAt: previous.codeExpiresAt,
    verificationChannel: previous.verificationChannel,
  }
  return db.pipeline.batch([bind(resendRefunded, values), bind(resendStampRestored, values)])
}
