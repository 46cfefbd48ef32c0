import { startDbProbe } from './db-probe'
import { gatewayOps, setupPartner } from './gateway'
import { dispatchTransport, httpTransport } from './http'
import { measure, type Measured } from './measure'
import type { BenchOptions } from './options'
import { sfoxOps } from './sfox'
import type { Stack } from './stack'

export const OPS = ['create', 'resend', 'confirm_wrong', 'confirm', 'get'] as const
export type OpName = (typeof OPS)[number]

export const LABELS: Record<OpName, string> = {
  create: 'create PAYMENT',
  resend: 'resend',
  confirm_wrong: 'confirm (wrong code)',
  confirm: 'confirm',
  get: 'GET one transfer',
}

/** A gateway phase also says whether the key cache stayed warm from its first op to its last. */
export type GatewayMeasured = Measured & { keyCacheWarm: boolean }

export type SideBySide = {
  /** Real HTTP to Miniflare's entry socket (Node's fetch, keep-alive). */
  gateway: GatewayMeasured
  /** The same op through Miniflare's dispatchFetch; only in passes that ask for it. */
  dispatch: GatewayMeasured | null
  /** Straight to the sandbox; null where sFOX has no such call (GET one transfer). */
  direct: Measured | null
}

export type PassResults = {
  label: string
  n: number
  concurrency: number
  floors: { gateway: GatewayMeasured; dispatch: GatewayMeasured | null; direct: Measured }
  db: { update: Measured; select: Measured }
  ops: Record<OpName, SideBySide>
  /** create then confirm, one after the other, per flow; only in passes that ask for it. */
  flows: { gateway: GatewayMeasured; direct: Measured } | null
}

type Progress = (line: string) => void
type GatewayOp = 'create' | 'resend' | 'confirmWrong' | 'confirm' | 'get'
type DirectOp = 'create' | 'resend' | 'confirmWrong' | 'confirm'

// Which client call each reported op is, through the gateway and straight to sFOX.
const CALLS: Record<OpName, [GatewayOp, DirectOp | null]> = {
  create: ['create', 'create'],
  resend: ['resend', 'resend'],
  confirm_wrong: ['confirmWrong', 'confirmWrong'],
  confirm: ['confirm', 'confirm'],
  get: ['get', null],
}

/**
 * Sets up the partner and both sFOX accounts, warms every path up, and returns `pass`, which
 * measures each op type in its own phase: through the gateway over HTTP, optionally through
 * dispatchFetch, and straight to the sandbox, one after the other so the figures come from the
 * same minutes of the same machine. Each phase works on transfers the previous phase left in the
 * state it needs: create → resend → wrong-code confirm → confirm → get, one op per transfer.
 */
export const prepareScenario = async (stack: Stack, options: BenchOptions, progress: Progress) => {
  const { libsql, sfox } = stack
  const http = httpTransport('gateway', stack.gateway.url)
  const [gatewayAccount, directAccount] = [await sfox.newAccount(), await sfox.newAccount()]
  const partner = await setupPartner(http, stack.gateway.adminToken, { url: sfox.url, apiKey: gatewayAccount.api_key })
  let key = await partner.issueKey()
  const gw = { gateway: gatewayOps(http, () => key), dispatch: gatewayOps(dispatchTransport('dispatch', stack.gateway.mf), () => key) }
  const direct = sfoxOps(httpTransport('sfox', sfox.url), directAccount.api_key)
  const probe = await startDbProbe(libsql.url)

  // The key cache keeps a key API_KEY_CACHE_SECONDS from its first use. Each gateway phase starts
  // with a new key, loaded before the counter is reset, so no phase pays for (or hides) a reload.
  const gatewayPhase = async (side: 'gateway' | 'dispatch', count: number, concurrency: number, op: (i: number) => Promise<unknown>) => {
    key = await partner.issueKey()
    await gw[side].prime()
    const primed = performance.now()
    const measured = await measure(libsql, count, concurrency, op)
    return { ...measured, keyCacheWarm: performance.now() - primed < stack.gateway.keyCacheSeconds * 1000 }
  }
  const ids = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}-${i}`)

  const warm = async () => {
    const { warmup: w, concurrency: c } = options
    progress(`warm-up: ${w} flows per side`)
    for (const side of ['gateway', 'dispatch'] as const) {
      const warmIds = ids(`warm-${side}`, w)
      await measure(libsql, w, c, () => gw[side].floor())
      for (const op of OPS) await measure(libsql, w, c, (i) => gw[side][CALLS[op][0]](warmIds[i]!))
    }
    const warmIds = ids('warm-direct', w)
    await measure(libsql, w, c, () => direct.floor())
    for (const op of OPS) {
      const call = CALLS[op][1]
      if (call) await measure(libsql, w, c, (i) => direct[call](warmIds[i]!))
    }
    await measure(libsql, w, c, probe.update)
    await measure(libsql, w, c, probe.select)
  }

  const pass = async (label: string, n: number, concurrency: number, extras: { dispatch: boolean; flows: boolean }): Promise<PassResults> => {
    const c = concurrency
    progress(`${label}: floors and DB round trips (${n} each, ${c} in flight)`)
    const floors = {
      gateway: await gatewayPhase('gateway', n, c, () => gw.gateway.floor()),
      dispatch: extras.dispatch ? await gatewayPhase('dispatch', n, c, () => gw.dispatch.floor()) : null,
      direct: await measure(libsql, n, c, () => direct.floor()),
    }
    const db = { update: await measure(libsql, n, c, probe.update), select: await measure(libsql, n, c, probe.select) }

    const gatewayIds = ids(`${label}-gateway`, n)
    const dispatchIds = ids(`${label}-dispatch`, n)
    const directIds = ids(`${label}-direct`, n)
    const ops = {} as Record<OpName, SideBySide>
    for (const op of OPS) {
      progress(`${label}: ${op}`)
      const [gatewayCall, directCall] = CALLS[op]
      ops[op] = {
        gateway: await gatewayPhase('gateway', n, c, (i) => gw.gateway[gatewayCall](gatewayIds[i]!)),
        dispatch: extras.dispatch ? await gatewayPhase('dispatch', n, c, (i) => gw.dispatch[gatewayCall](dispatchIds[i]!)) : null,
        direct: directCall ? await measure(libsql, n, c, (i) => direct[directCall](directIds[i]!)) : null,
      }
    }

    let flows: PassResults['flows'] = null
    if (extras.flows) {
      progress(`${label}: create+confirm flows`)
      const flowIds = ids(`${label}-flow-gateway`, n)
      const flowDirectIds = ids(`${label}-flow-direct`, n)
      flows = {
        gateway: await gatewayPhase('gateway', n, c, async (i) => {
          await gw.gateway.create(flowIds[i]!)
          await gw.gateway.confirm(flowIds[i]!)
        }),
        direct: await measure(libsql, n, c, async (i) => {
          await direct.create(flowDirectIds[i]!)
          await direct.confirm(flowDirectIds[i]!)
        }),
      }
    }
    return { label, n, concurrency: c, floors, db, ops, flows }
  }

  return { warm, pass, close: () => probe.close() }
}
