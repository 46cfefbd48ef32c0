import type { InStatement } from '@libsql/client/web'
import type { Context } from 'hono'
import { matchedRoutes } from 'hono/route'
import type { WriteCompanion } from '../../db/client'
import type { AuditEntry } from '../../db/schema'
import { AUDITED_ROUTES, type AuditedAction, paramsOf } from '../audit/actions'
import { finalEntryStatement, pendingEntryStatement, returnOutcomes, takeOutcomes } from '../audit/audit-log'
import { newId } from '../lib/ids'
import { Problem } from '../lib/problem'
import type { Mode } from '../schemas/common'
import { clientAddress } from './access'
import type { AppEnv } from './app-env'

type Actor = Pick<AuditEntry, 'actorType' | 'actorId' | 'actorLabel'>

/** What the handler knows that the route does not: the object a create made, or who signs in. */
export type AuditSubject = { objectId?: string; partnerId?: string; mode?: Mode; actor?: Actor }

/**
 * One request's audit entry. `companion` joins every write the request makes (db/client.ts), so a
 * change never exists without its entry; `finish` completes it with the answer's outcome.
 */
export type AuditTrail = {
  about: (subject: AuditSubject) => void
  companion: WriteCompanion
  finish: () => Promise<InStatement | null>
}

/** The handler's route ("METHOD /path/:param"), not a middleware's. */
const handlerRouteOf = (c: Context<AppEnv>): string | null => {
  const routes = matchedRoutes(c)
  for (let i = routes.length - 1; i >= 0; i--) {
    const route = routes[i]!
    if (route.method !== 'ALL') return `${route.method} ${route.path}`
  }
  return null
}

/** The admin token's fingerprint, the portal session, or the API key: whoever was let in. */
const actorOf = (c: Context<AppEnv>, subject: AuditSubject): Actor | null => {
  const admin = c.get('log')?.adminToken
  if (admin) return { actorType: 'admin', actorId: admin.fingerprint, actorLabel: admin.slot }
  const portal = c.get('portal')
  if (portal) return { actorType: 'portal_session', actorId: portal.sessionId, actorLabel: null }
  const key = c.get('partner')?.key
  if (key) return { actorType: 'api_key', actorId: key.id, actorLabel: key.prefix }
  return subject.actor ?? null
}

const outcomeOf = (status: number): AuditEntry['outcome'] =>
  status < 400 ? 'succeeded' : status < 500 ? 'refused' : 'failed'

/** The problem code of an error answer: the thrown Problem's, or the problem document's. */
const problemCodeOf = async (c: Context<AppEnv>): Promise<string | null> => {
  if (c.error instanceof Problem) return c.error.code
  if (!c.res.headers.get('content-type')?.startsWith('application/problem+json')) return null
  const body = (await c.res
    .clone()
    .json()
    .catch(() => null)) as { code?: unknown } | null
  return typeof body?.code === 'string' ? body.code : null
}

export const auditTrailOf = (c: Context<AppEnv>, now: () => number): AuditTrail => {
  let route: { key: string; audited: AuditedAction } | null | undefined
  const subject: AuditSubject = {}
  let finished = false
  let identity: { id: string; createdAt: number } | undefined

  const routeOf = () => {
    if (route === undefined) {
      const key = handlerRouteOf(c)
      const audited = key ? AUDITED_ROUTES[key] : undefined
      route = key && audited ? { key, audited } : null
    }
    return route
  }

  /** The entry as far as it is known now; null when the request is not audited or nobody got in. */
  const entryNow = (outcome: Pick<AuditEntry, 'outcome' | 'status' | 'problemCode'>): AuditEntry | null => {
    const found = routeOf()
    const actor = found && actorOf(c, subject)
    if (!found || !actor) return null
    const params = paramsOf(found.key.slice(found.key.indexOf(' ') + 1), c.req.path)
    const { audited } = found
    identity ??= { id: newId('aud'), createdAt: now() }
    const partner = c.get('partner')
    return {
      ...identity,
      ...actor,
      partnerId: partner?.id ?? params.partner_id ?? subject.partnerId ?? null,
      mode: partner && actor.actorType !== 'admin' ? partner.mode : (subject.mode ?? null),
      action: audited.action,
      objectType: audited.objectType,
      objectId: (audited.objectParam && params[audited.objectParam]) || audited.objectId || subject.objectId || null,
      clientAddress: clientAddress(c),
      requestId: c.get('requestId'),
      ...outcome,
    }
  }

  return {
    about: (more) => Object.assign(subject, more),
    companion: {
      // The request's own entry while it runs, and whatever other requests' outcomes are waiting.
      take: () => {
        const entry = finished ? null : entryNow({ outcome: 'pending', status: null, problemCode: null })
        return [...(entry ? [pendingEntryStatement(entry)] : []), ...takeOutcomes()]
      },
      returned: returnOutcomes,
    },
    finish: async () => {
      finished = true
      const status = c.res.status
      const entry = entryNow({
        outcome: outcomeOf(status),
        status,
        problemCode: status >= 400 ? await problemCodeOf(c) : null,
      })
      return entry && finalEntryStatement(entry)
    },
  }
}
