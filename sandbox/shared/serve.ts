import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import type { Hono } from 'hono'

export type Listening = { url: string; port: number; close: () => Promise<void> }

/** Serves a Hono app on 127.0.0.1; port 0 picks a free port (tests run many servers side by side). */
export const listen = (app: Hono<any>, port = 0, hostname = '127.0.0.1'): Promise<Listening> =>
  new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port, hostname }, (info: AddressInfo) => {
      resolve({
        url: `http://${hostname}:${info.port}`,
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            ;(server as Server).closeAllConnections?.()
            server.close(() => done())
          }),
      })
    }) as Server
    server.once('error', reject)
  })
