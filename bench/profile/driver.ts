// Drives the Worker as one sFOX partner, sending to whichever Worker runs now (the A/B variants
// start their own), and measures a pass of requests: wall time, workerd's CPU from /proc, optionally perf.
import type { KeyPairPem } from '../../sandbox/qi/keys'
import { cpuBetween, eventLoopTid, threadCpu } from '../cpu'
import { type Document, gatewayUpload } from '../documents'
import { gatewayOps, setupPartner } from '../gateway'
import { httpTransport, type Transport } from '../http'
import { findDescendants } from '../memory'
import { registerQiIntegration } from '../qi-control'
import type { LeanStack } from '../stack'
import { startPerf } from './perf'

/** A Worker requests can go to; `pid` its workerd, null when it could not be told apart (no CPU figures). */
export type RunningWorker = { url: string; pid: number | null }

export type Driver = Awaited<ReturnType<typeof startDriver>>

/**
 * Sets up the partner (connected to the sFOX sandbox, and to a QI sandbox when `qi` is given, with the
 * partner's P-521 key pair) on the stack's Worker and starts sending to it.
 */
export const startDriver = async (
  stack: LeanStack,
  progress: (line: string) => void,
  qi?: { url: string; keys: KeyPairPem },
) => {
  const knownWorkerds = new Set<number>()
  /** The workerd of a Worker that just started: the one new workerd among this process's descendants. */
  const newWorkerd = () => {
    const fresh = findDescendants('workerd').filter((pid) => !knownWorkerds.has(pid))
    if (fresh.length !== 1) progress(`found ${fresh.length} new workerd processes: no per-thread CPU figures`)
    const pid = fresh.length === 1 ? fresh[0]! : null
    if (pid !== null) knownWorkerds.add(pid)
    return pid
  }
  const worker: RunningWorker = { url: stack.gateway.url, pid: newWorkerd() }

  let current = httpTransport('gateway', worker.url)
  const http: Transport = { name: 'gateway', fetch: (path, init) => current.fetch(path, init) }
  const account = await stack.sfox.newAccount()
  const integration = qi ? await registerQiIntegration(qi.url, qi.keys.publicKeyPem) : null
  const partner = await setupPartner(
    http,
    stack.gateway.adminToken,
    {
      sfox: { url: stack.sfox.url, apiKey: account.api_key },
      ...(qi && integration ? { qi: { url: qi.url, integration, privateKeyPem: qi.keys.privateKeyPem } } : {}),
    },
    'Profile partner',
  )
  let key = await partner.issueKey()
  const gw = gatewayOps(http, () => key, integration?.accountKey)

  /** A new key loaded into the key cache (API_KEY_CACHE_SECONDS), so a phase pays for no reload. */
  const freshKey = async () => {
    key = await partner.issueKey()
    await gw.prime()
  }

  /** `count` requests one at a time against the stack's Worker, after a fresh key; perf records into `perfFile` if given. */
  const drive = async (count: number, op: (i: number) => Promise<unknown>, perfFile?: string) => {
    await freshKey()
    const tid = perfFile ? eventLoopTid(worker.pid) : null
    const perf = tid !== null && perfFile ? await startPerf(tid, perfFile) : null
    const before = threadCpu(worker.pid)
    const t0 = performance.now()
    for (let i = 0; i < count; i++) await op(i)
    const wallMs = performance.now() - t0
    // Work left to ctx.waitUntil still belongs to the phase: give it a moment.
    await new Promise((r) => setTimeout(r, 200))
    const cpu = cpuBetween(before, threadCpu(worker.pid), count)
    const perfReport = perf ? await perf.stop() : null
    return { wallMs, cpu, perfReport }
  }

  return {
    gw,
    /** The key requests carry now (the loop harness sends its own requests with it). */
    apiKey: () => key,
    /** The QI integration's account key a TED is sent from ('' without QI). */
    qiAccountKey: integration?.accountKey ?? '',
    /** A 10 MiB-class document upload for `userId` (made an sFOX user of the partner's account first). */
    upload: async (userId: string, doc: Document) => {
      await stack.sfox.addUser(userId, account.account)
      return gatewayUpload(http, () => key, userId, doc)
    },
    freshKey,
    drive,
    /** A new key, loaded into no Worker's key cache yet. */
    newKey: async () => {
      key = await partner.issueKey()
    },
    /** Requests go to `to` from now on. */
    use: (to: RunningWorker) => {
      current = httpTransport('gateway', to.url)
    },
    /** Starts another Worker from `scriptPath` with the stack's bindings (the partner's keys stay valid there). */
    startWorker: async (scriptPath: string, inspectorPort?: number): Promise<RunningWorker> => {
      const started = await stack.startGatewayWorker(scriptPath, inspectorPort)
      return { url: started.url, pid: newWorkerd() }
    },
  }
}
