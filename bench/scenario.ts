import { type CpuJudgeResults, runCpuJudge } from './cpu-judge'
import { startDbProbe } from './db-probe'
import { type GatewayOps, gatewayOps, setupPartner } from './gateway'
import { dispatchTransport, httpTransport } from './http'
import { type IoProbeResults, startIoProbe } from './io-probe'
import { type Measured, measure } from './measure'
import { OPS, type OpName, PROVIDER_OF } from './ops'
import type { BenchOptions } from './options'
import { type QiCall, qiOps } from './qi'
import { registerQiIntegration } from './qi-control'
import { sfoxOps } from './sfox'
import type { Stack } from './stack'

/** A gateway phase also says whether the key cache stayed warm from its first op to its last. */
export type GatewayMeasured = Measured & { keyCacheWarm: boolean }

export type SideBySide = {
  /** Real HTTP to Miniflare's entry socket (Node's fetch, keep-alive). */
  gateway: GatewayMeasured
  /** The same op through Miniflare's dispatchFetch; only sFOX ops, in passes that ask for it. */
  dispatch: GatewayMeasured | null
  /** Straight to the provider's sandbox; null where it has no such call (GET one transfer). */
  direct: Measured | null
}

export type PassResults = {
  label: string
  /** Ops per phase of the sFOX ops (and floors, DB probes); `qiN` per QI phase. */
  n: number
  qiN: number
  concurrency: number
  floors: {
    gateway: GatewayMeasured
    dispatch: GatewayMeasured | null
    /** The sFOX sandbox's 404. */
    direct: Measured
    /** The QI sandbox's 404 (a control route: no auth, no signing). */
    directQi: Measured
    /** One QI request signature (ES512, P-521) in Node with jose: what the crypto QI requires costs. */
    qiSign: Measured
  }
  db: { update: Measured; select: Measured }
  /**
   * The same kinds of I/O measured from inside workerd (a probe Worker of its own) and, call for
   * call, from Node; only in passes that ask for it (the latency pass), else null.
   */
  ioProbe: IoProbeResults | null
  /** The gateway's own CPU per request, measured (cpu-judge.ts); in the pass with the I/O probe, else null. */
  cpu: CpuJudgeResults | null
  ops: Record<OpName, SideBySide>
  /** create then confirm, one after the other, per flow (sFOX); only in passes that ask for it. */
  flows: { gateway: GatewayMeasured; direct: Measured } | null
}

type Progress = (line: string) => void
type GatewayCall = Exclude<keyof GatewayOps, 'payout' | 'registerEndpoint' | 'prime' | 'floor'>
type SfoxCall = 'create' | 'resend' | 'confirmWrong' | 'confirm'

// Which client call each reported op is, through the gateway and straight to the provider.
const GATEWAY_CALLS: Record<OpName, GatewayCall> = {
  create: 'create',
  resend: 'resend',
  confirm_wrong: 'confirmWrong',
  confirm: 'confirm',
  get: 'get',
  qi_create: 'qiCreate',
  qi_resend: 'qiResend',
  qi_confirm_wrong: 'qiConfirmWrong',
  qi_confirm: 'qiConfirm',
}
const DIRECT_CALLS: Record<OpName, { sfox: SfoxCall } | { qi: QiCall } | null> = {
  create: { sfox: 'create' },
  resend: { sfox: 'resend' },
  confirm_wrong: { sfox: 'confirmWrong' },
  confirm: { sfox: 'confirm' },
  get: null,
  qi_create: { qi: 'create' },
  qi_resend: { qi: 'resend' },
  qi_confirm_wrong: { qi: 'confirmWrong' },
  qi_confirm: { qi: 'confirm' },
}
// dispatchFetch vs HTTP is a question about the transport to the Worker: the sFOX ops answer it.
const viaDispatch = (op: OpName) => PROVIDER_OF[op] === 'sfox'

/**
 * Sets up the partner (connected to both sandboxes) and the direct accounts, warms every path up,
 * and returns `pass`, which measures each op type in its own phase: through the gateway over HTTP,
 * optionally through dispatchFetch, and straight to the sandbox, one after the other so the figures
 * come from the same minutes of the same machine. Each provider's phases work on transfers its
 * previous phase left in the state it needs: create → resend → wrong-code confirm → confirm (→ get),
 * one op per transfer, so a TED sees one wrong token (QI rejects it at 5).
 */
export const prepareScenario = async (stack: Stack, options: BenchOptions, progress: Progress) => {
  const { libsql, sfox, qi, qiKeys } = stack
  const http = httpTransport('gateway', stack.gateway.url)
  const [gatewayAccount, directAccount] = [await sfox.newAccount(), await sfox.newAccount()]
  const [gatewayQi, directQi] = [
    await registerQiIntegration(qi.url, qiKeys.publicKeyPem),
    await registerQiIntegration(qi.url, qiKeys.publicKeyPem),
  ]
  const partner = await setupPartner(http, stack.gateway.adminToken, {
    sfox: { url: sfox.url, apiKey: gatewayAccount.api_key },
    qi: { url: qi.url, integration: gatewayQi, privateKeyPem: qiKeys.privateKeyPem },
  })
  let key = await partner.issueKey()
  const gw = {
    gateway: gatewayOps(http, () => key, gatewayQi.accountKey),
    dispatch: gatewayOps(dispatchTransport('dispatch', stack.gateway.mf), () => key, gatewayQi.accountKey),
  }
  const direct = {
    sfox: sfoxOps(httpTransport('sfox', sfox.url), directAccount.api_key),
    qi: qiOps(httpTransport('qi', qi.url), directQi, qiKeys.privateKeyPem),
  }
  const probe = await startDbProbe(libsql.url)

  /** The direct call of an op, its requests signed beforehand where the provider wants signatures. */
  const directPhase = async (op: OpName, ids: string[], concurrency: number): Promise<Measured | null> => {
    const call = DIRECT_CALLS[op]
    if (!call) return null
    if ('sfox' in call) return measure(libsql, ids.length, concurrency, (i) => direct.sfox[call.sfox](ids[i]!))
    await direct.qi.presign(call.qi, ids)
    return measure(libsql, ids.length, concurrency, (i) => direct.qi[call.qi](ids[i]!))
  }

  // The key cache keeps a key API_KEY_CACHE_SECONDS from its first use. Each gateway phase starts
  // with a new key, loaded before the counter is reset, so no phase pays for (or hides) a reload.
  const gatewayPhase = async (
    side: 'gateway' | 'dispatch',
    count: number,
    concurrency: number,
    op: (i: number) => Promise<unknown>,
  ) => {
    key = await partner.issueKey()
    await gw[side].prime()
    const primed = performance.now()
    const measured = await measure(libsql, count, concurrency, op)
    return { ...measured, keyCacheWarm: performance.now() - primed < stack.gateway.keyCacheSeconds * 1000 }
  }
  const ids = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}-${i}`)
  /** Transfer ids of one chain of phases: one set per side and provider. */
  const chainIds = (label: string, side: string, op: OpName, count: number) =>
    ids(`${label}-${PROVIDER_OF[op]}-${side}`, count)

  const warm = async () => {
    const { warmup: w, concurrency: c } = options
    progress(`warm-up: ${w} flows per side and provider`)
    for (const side of ['gateway', 'dispatch'] as const) {
      await measure(libsql, w, c, () => gw[side].floor())
      for (const op of OPS) {
        if (side === 'dispatch' && !viaDispatch(op)) continue
        const warmIds = chainIds('warm', side, op, w)
        await measure(libsql, w, c, (i) => gw[side][GATEWAY_CALLS[op]](warmIds[i]!))
      }
    }
    await measure(libsql, w, c, () => direct.sfox.floor())
    await measure(libsql, w, c, () => direct.qi.floor())
    await measure(libsql, w, 1, () => direct.qi.signOnly())
    for (const op of OPS) await directPhase(op, chainIds('warm', 'direct', op, w), c)
    await measure(libsql, w, c, probe.update)
    await measure(libsql, w, c, probe.select)
  }

  /**
   * The I/O probe runs in a workerd of its own, started for the measurement and stopped right
   * after it, so the gateway's phases run beside nothing new and the uploads find one workerd.
   */
  const ioProbePhase = async (): Promise<{ ioProbe: IoProbeResults | null; cpu: CpuJudgeResults | null }> => {
    if (options.ioProbeN === 0 && options.cpuN === 0) return { ioProbe: null, cpu: null }
    const probe = await startIoProbe(stack, progress)
    try {
      const ioProbe = options.ioProbeN > 0 ? await probe.measure(options.ioProbeN) : null
      const cpu = options.cpuN > 0 ? await runCpuJudge(stack, probe, partner, options.cpuN, progress) : null
      return { ioProbe, cpu }
    } finally {
      await probe.close()
    }
  }

  const pass = async (
    label: string,
    n: number,
    qiN: number,
    concurrency: number,
    extras: { dispatch: boolean; flows: boolean; ioProbe: boolean },
  ): Promise<PassResults> => {
    const c = concurrency
    progress(`${label}: floors and DB round trips (${n} each, ${c} in flight; QI phases ${qiN} each)`)
    const floors = {
      gateway: await gatewayPhase('gateway', n, c, () => gw.gateway.floor()),
      dispatch: extras.dispatch ? await gatewayPhase('dispatch', n, c, () => gw.dispatch.floor()) : null,
      direct: await measure(libsql, n, c, () => direct.sfox.floor()),
      directQi: await measure(libsql, n, c, () => direct.qi.floor()),
      // CPU only: one at a time whatever the pass's concurrency.
      qiSign: await measure(libsql, qiN, 1, () => direct.qi.signOnly()),
    }
    const db = { update: await measure(libsql, n, c, probe.update), select: await measure(libsql, n, c, probe.select) }
    const { ioProbe, cpu } = extras.ioProbe ? await ioProbePhase() : { ioProbe: null, cpu: null }

    const ops = {} as Record<OpName, SideBySide>
    for (const op of OPS) {
      progress(`${label}: ${op}`)
      const call = GATEWAY_CALLS[op]
      const count = PROVIDER_OF[op] === 'qi' ? qiN : n
      const [gatewayIds, dispatchIds, directIds] = ['gateway', 'dispatch', 'direct'].map((side) =>
        chainIds(label, side, op, count),
      ) as [string[], string[], string[]]
      ops[op] = {
        gateway: await gatewayPhase('gateway', count, c, (i) => gw.gateway[call](gatewayIds[i]!)),
        dispatch:
          extras.dispatch && viaDispatch(op)
            ? await gatewayPhase('dispatch', count, c, (i) => gw.dispatch[call](dispatchIds[i]!))
            : null,
        direct: await directPhase(op, directIds, c),
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
          await direct.sfox.create(flowDirectIds[i]!)
          await direct.sfox.confirm(flowDirectIds[i]!)
        }),
      }
    }
    return { label, n, qiN, concurrency: c, floors, db, ioProbe, cpu, ops, flows }
  }

  return { warm, pass, close: () => probe.close() }
}
