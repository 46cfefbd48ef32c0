import type { ConnectionCheckItem, ProviderError, Result } from './provider'

// Helpers every provider's connection check shares: timed steps, and plain words for failures.

export type StepVerdict = { ok: boolean; detail: string }

/** Runs one check and times it; an answer the check cannot read fails the check, never the request. */
export const step = async (name: string, run: () => Promise<StepVerdict>): Promise<ConnectionCheckItem> => {
  const started = Date.now()
  const verdict = await run().catch(
    (): StepVerdict => ({ ok: false, detail: 'The provider answered something this check cannot read.' }),
  )
  return { name, ...verdict, duration_ms: Date.now() - started }
}

/** A check that could not run because an earlier one failed. */
export const notChecked = (name: string, because: string): ConnectionCheckItem => ({
  name,
  ok: false,
  detail: `Not checked: ${because}.`,
  duration_ms: 0,
})

/** Whether the provider answered at all (any HTTP status): the network path and base URL are right. */
export const reached = (result: Result<unknown>): boolean =>
  result.ok || (result.error.status !== null && result.error.status !== 404 && result.error.status !== 405)

/** A failed call in an operator's words, with the provider's own code and message. */
export const describeFailure = (error: ProviderError, providerLabel: string): string =>
  `${providerLabel} answered ${error.status === null ? 'nothing' : `HTTP ${error.status}`}${error.code ? ` ${error.code}` : ''}: ${error.message}`

/** The advice for an unreachable base URL. */
export const unreachableDetail = (baseUrl: string, error: ProviderError) =>
  error.status === null
    ? `Could not reach ${baseUrl} (${error.message}): check base_url and that the gateway may connect to it.`
    : `${baseUrl} answered HTTP ${error.status} where the provider's API should be: check base_url.`
