import type { SimulatedProvider } from './state-store'

// The only control routes the gateway's test-only endpoints need. Every other `/_sandbox/*` route (settings, clock,
// faults, reset, accounts, integrations, requests…) acts on sandbox-wide memory that does not outlive a request.
const controlRoutes: Record<SimulatedProvider, RegExp[]> = {
  sfox: [/^GET \/_sandbox\/outbox$/, /^GET \/_sandbox\/transfers$/, /^POST \/_sandbox\/transfers\/[^/]+\/status$/],
  qi: [/^GET \/_sandbox\/tokens$/, /^GET \/_sandbox\/teds\/[^/]+$/, /^POST \/_sandbox\/teds\/[^/]+\/status$/],
}

const decoded = (path: string) => {
  try {
    return decodeURIComponent(path)
  } catch {
    return path
  }
}

/**
 * Whether the simulator passes this request to the sandbox: any provider API path, and the allowed control
 * routes. The check is on the decoded path too, since the router decodes "%5F" before matching.
 */
export const isAllowedRoute = (provider: SimulatedProvider, method: string, pathname: string): boolean => {
  if (!pathname.includes('_sandbox') && !decoded(pathname).includes('_sandbox')) return true
  return controlRoutes[provider].some((route) => route.test(`${method} ${pathname}`))
}
