// Collects V8 CPU profiles from workerd's isolates: the Chrome DevTools Protocol over the
// inspector's WebSocket, one session per isolate profiled.
import { createServer } from 'node:net'
import WebSocket from 'ws'

/** A free local port for workerd's inspector (asked before the Worker starts). */
export const freePort = () =>
  new Promise<number>((resolvePort, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolvePort(port))
    })
  })

/** V8's CPU profile as Profiler.stop answers it (the .cpuprofile format). */
export type CallFrame = {
  functionName: string
  scriptId: string
  url: string
  lineNumber: number
  columnNumber: number
}
export type ProfileNode = { id: number; callFrame: CallFrame; hitCount?: number; children?: number[] }
export type CpuProfile = {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

export type CdpSession = {
  send: <T = any>(method: string, params?: Record<string, unknown>) => Promise<T>
  /** Events (messages without an id), e.g. HeapProfiler.addHeapSnapshotChunk. */
  onEvent: (listener: (method: string, params: any) => void) => void
  close: () => void
}

/** A Chrome DevTools Protocol session on one inspector target's WebSocket. */
export const connectCdp = async (url: string): Promise<CdpSession> => {
  const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1024 * 1024 * 1024 })
  await new Promise<void>((ok, fail) => {
    ws.once('open', () => ok())
    ws.once('error', fail)
  })
  let nextId = 1
  const pending = new Map<number, { ok: (v: any) => void; fail: (e: Error) => void }>()
  const listeners: ((method: string, params: any) => void)[] = []
  ws.on('message', (data) => {
    const message = JSON.parse(data.toString()) as {
      id?: number
      method?: string
      params?: unknown
      result?: unknown
      error?: { message: string }
    }
    if (message.id === undefined) {
      for (const listener of listeners) listener(message.method ?? '', message.params)
      return
    }
    const waiter = pending.get(message.id)
    if (!waiter) return
    pending.delete(message.id)
    if (message.error) waiter.fail(new Error(`CDP: ${message.error.message}`))
    else waiter.ok(message.result)
  })
  ws.on('close', () => {
    for (const waiter of pending.values()) waiter.fail(new Error('CDP: inspector connection closed'))
    pending.clear()
  })
  return {
    send: (method, params = {}) =>
      new Promise((ok, fail) => {
        const id = nextId++
        pending.set(id, { ok, fail })
        ws.send(JSON.stringify({ id, method, params }))
      }),
    onEvent: (listener) => void listeners.push(listener),
    close: () => ws.close(),
  }
}

export type InspectorTarget = { id: string; title: string; url?: string; webSocketDebuggerUrl?: string }

/**
 * workerd's inspector targets: the user Worker is `core:user:<name>` (the name is empty when
 * Miniflare gets none); the others (core:entry, strip-cf-connecting-ip, cache, queues) are
 * Miniflare's own workers, each an isolate of its own on the same thread.
 */
export const listTargets = async (port: number): Promise<{ user: InspectorTarget; others: InspectorTarget[] }> => {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as InspectorTarget[]
  const user = targets.find((t) => t.id.startsWith('core:user:'))
  if (!user) throw new Error(`no inspector target for the Worker among: ${targets.map((t) => t.title).join(', ')}`)
  return { user, others: targets.filter((t) => t !== user) }
}

/** Runs `run` with V8's sampling profiler on in each of `isolates`; answers its result and their profiles, in order. */
export const profileWhile = async <T extends object>(
  port: number,
  isolates: InspectorTarget[],
  intervalUs: number,
  run: () => Promise<T>,
): Promise<T & { profiles: CpuProfile[] }> => {
  const sessions = await Promise.all(
    isolates.map((t) => connectCdp(t.webSocketDebuggerUrl ?? `ws://127.0.0.1:${port}/${t.id}`)),
  )
  try {
    for (const cdp of sessions) {
      await cdp.send('Profiler.enable')
      await cdp.send('Profiler.setSamplingInterval', { interval: intervalUs })
    }
    for (const cdp of sessions) await cdp.send('Profiler.start')
    const result = await run()
    const profiles = await Promise.all(
      sessions.map((cdp) => cdp.send<{ profile: CpuProfile }>('Profiler.stop').then((r) => r.profile)),
    )
    for (const cdp of sessions) await cdp.send('Profiler.disable')
    return { ...result, profiles }
  } finally {
    for (const cdp of sessions) cdp.close()
  }
}
