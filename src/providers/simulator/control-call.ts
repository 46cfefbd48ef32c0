import { callProvider, genericHttpError } from '../outbound'
import type { AdapterOptions, OpenConnection, ProviderName, Result } from '../provider'

/** One call to a simulator's control route; its `data` on success, its error message otherwise. */
export const controlCall = async (
  provider: ProviderName,
  connection: OpenConnection,
  options: AdapterOptions,
  method: string,
  path: string,
  body?: unknown,
): Promise<Result<unknown>> => {
  const result = await callProvider({
    provider,
    url: new URL(path.replace(/^\//, ''), connection.baseUrl.replace(/\/?$/, '/')).toString(),
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    timeoutMs: options.timeoutMs,
    onTiming: options.onTiming,
    fetch: options.fetch,
  })
  if (!result.ok) return result
  const { status, json } = result.response
  const answer = json as { data?: unknown; error?: unknown } | null
  if (status >= 200 && status < 300) return { ok: true, value: answer?.data ?? null }
  const message = typeof answer?.error === 'string' ? answer.error : `the simulator answered HTTP ${status}`
  return {
    ok: false,
    error: genericHttpError(provider, status, message) ?? { kind: 'rejected', provider, status, code: null, message },
  }
}
