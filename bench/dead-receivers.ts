import type { AddressInfo } from 'node:net'
import { createServer, type Socket } from 'node:net'

/** A callback receiver that no longer listens: a port that was free a moment ago, so connecting is refused. */
export const refusingReceiver = async () => {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return { url: `http://127.0.0.1:${port}/hooks`, kind: 'refuses' as const, close: async () => {} }
}

/**
 * A callback receiver that hangs: it accepts the connection, reads whatever comes and never
 * answers, so every delivery runs into the gateway's WEBHOOK_TIMEOUT_MS. Counts the connections.
 */
export const hangingReceiver = async () => {
  const sockets = new Set<Socket>()
  let connections = 0
  const server = createServer((socket) => {
    connections++
    sockets.add(socket)
    socket.on('data', () => {})
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    kind: 'hangs' as const,
    /** Connections accepted so far, and still open now. */
    connections: () => ({ total: connections, open: sockets.size }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}
