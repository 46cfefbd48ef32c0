import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'

/** QI's error envelope (reference §3). QI says clients must not map it strictly: fields may be added. */
export type QiErrorBody = {
  title: string
  description: string
  translation: string
  code: string
  extra_fields: Record<string, unknown>
}

type Entry = { status: number; title: string; description: string; translation: string }

const UNAUTHENTICATED =
  'Please provide valid credentials as part of the request. (Documentation: https://qitech.com.br/documentation) Details: '
const NAO_AUTENTICADO =
  'Por favor forneça credenciais válidas como parte da request. (Documentação: https://qitech.com.br/documentation) Detalhes: '

/**
 * Every error the QI sandbox answers with; `{name}` placeholders are filled from `params`. Each entry carries one
 * provenance label (test/unit/qi-error-labels.test.ts holds them to it):
 * - "[DOC 004]": status, title, description and translation copied from /work/shared/providers/source-docs/004
 *   (QI's "Request Token Resend for a TED transaction" page), which wins over the summary qi.md;
 * - "[SUMMARY qi.md §n]": what the summary /work/shared/providers/qi.md states (it quotes QI's status, code and
 *   title and paraphrases the rest); no stored page has that error;
 * - "[INFERRED]": made up because no page or summary states it, with the setting that controls it where one does.
 * Adapters must not depend on [INFERRED] wording.
 */
const CATALOG = {
  // [SUMMARY qi.md §2.4] 400, code and title (QI's authentication-errors page, not in source-docs). [INFERRED]
  // the description and translation: the summary paraphrases and no stored page has QI's text.
  GDF000003: {
    status: 400,
    title: 'Bad Request',
    description: 'No API Client Key received',
    translation: 'Nenhuma chave de API do cliente recebida',
  },
  // [SUMMARY qi.md §2.4] 401, code and title. [INFERRED] the texts (the summary paraphrases and no stored page has QI's text); the failed check goes in
  // extra_fields.sandbox_reason (a sandbox aid, see `unauthenticated`).
  GDF000014: {
    status: 401,
    title: 'QI Unauthenticated',
    description: `${UNAUTHENTICATED}Failed while decoding the authentication token`,
    translation: `${NAO_AUTENTICADO}Falha ao decodificar o token de autenticação`,
  },
  // [SUMMARY qi.md §2.4] 404, code and title. [INFERRED] the texts: the summary paraphrases and no stored page has QI's text.
  GDF000018: {
    status: 404,
    title: 'Not Found',
    description: 'No ClientIntegration found for api_client_key: {api_client_key}.',
    translation: 'Nenhuma ClientIntegration encontrada para api_client_key: {api_client_key}.',
  },
  // [DOC 004] table row "400 | QIT000001 | Bad Request | Schema Error | Erro de Schema". The failing fields are
  // not in QI's text: the sandbox lists them in extra_fields.errors ([INFERRED] marshmallow-style messages).
  QIT000001: {
    status: 400,
    title: 'Bad Request',
    description: 'Schema Error',
    translation: 'Erro de Schema',
  },
  // [SUMMARY qi.md §6] 500 "Internal Error" (erros_ted). [INFERRED] the texts: the summary paraphrases and no stored page has QI's text. Also the body of
  // an injected 500 fault without its own (`faultErrorBody`).
  QIT000500: {
    status: 500,
    title: 'Internal Error',
    description: 'An internal error has occurred and its being investigated.',
    translation: 'Um erro interno aconteceu e está sendo investigado',
  },
  // [DOC 004] The page's translation reads "{account_ke}": taken as a typo of the placeholder, which the
  // sandbox fills with the key like the description ([INFERRED]).
  TED000009: {
    status: 404,
    title: 'Account not found',
    description: 'Account not found for the given key: {account_key}',
    translation: 'Conta não encontrada para a chave fornecida: {account_key}',
  },
  // [SUMMARY qi.md §4.1, §6] 400 "Bad Request", description "Wrong day/time for TED" as quoted there. [INFERRED]
  // the translation. Only with the setting `ted_window_check` (off by default; window: `ted_window`).
  TED000011: {
    status: 400,
    title: 'Bad Request',
    description: 'Wrong day/time for TED',
    translation: 'Dia/hora incorretos para a TED',
  },
  // [SUMMARY qi.md §6] 403 "Unauthorized" (schedule pages). [INFERRED] the texts (the summary paraphrases and no stored page has QI's text), and that single-TED
  // routes answer it for an account of another integration.
  TED000018: {
    status: 403,
    title: 'Unauthorized',
    description: 'Provided account not owned by SELECTED_AGENT',
    translation: 'Conta fornecida não pertencente ao SELECTED_AGENT',
  },
  // [DOC 004]
  TED000020: {
    status: 404,
    title: 'Not Found',
    description: 'Ted was not found for the given parameters.',
    translation: 'Ted não encontrada para os parâmetros fornecidos.',
  },
  // [SUMMARY qi.md §6] 400 and title (schedule cancel page). [INFERRED] the texts: the summary paraphrases and no stored page has QI's text.
  TED000044: {
    status: 400,
    title: 'Invalid Timestamp Format sent',
    description: 'Invalid timestamp format sent for {field}, expected YYYY-MM-DD',
    translation: 'Formato de data inválido enviado para {field}, esperado AAAA-MM-DD',
  },
  // [SUMMARY qi.md §6] 400 and title (schedule cancel page). [INFERRED] the texts: the summary paraphrases and no stored page has QI's text.
  TED000045: {
    status: 400,
    title: 'Search Params Error',
    description: 'Invalid search params: {detail}',
    translation: 'Parâmetros de busca inválidos: {detail}',
  },
  // [SUMMARY qi.md §6] 400 and title (schedule cancel page). [INFERRED] the texts (the summary paraphrases and no stored page has QI's text), and that a
  // non-uuid4 request_control_key answers it: setting `invalid_uuid_code` (TED000046 or QIT000001).
  TED000046: {
    status: 400,
    title: 'Invalid uuid v4 string sent',
    description: 'Invalid uuid v4 string sent for {field}',
    translation: 'String uuid v4 inválida enviada para {field}',
  },
  // [DOC 004]
  TED000082: {
    status: 400,
    title: 'Number of token validation attempts exceeded',
    description: 'The maximum number of failed token validation attempts has been reached',
    translation: 'Número máximo de tentativas de validação de token atingida',
  },
  // [SUMMARY qi.md §0, §6] 400 "Token Expired" (TED 2FA pages). [INFERRED] the texts: the summary paraphrases and no stored page has QI's text; whether an
  // expired try uses an attempt: setting `expired_counts_as_attempt`.
  TED000083: {
    status: 400,
    title: 'Token Expired',
    description: 'Token has expired. Resend token or recreate transfer',
    translation: 'Token expirado. Reenvie token ou recrie a transferência',
  },
  // [SUMMARY qi.md §0, §6] 400 "Incorrect Token" (batch, schedule-batch pages). [INFERRED] the texts: the summary paraphrases and no stored page has QI's text;
  // as the answer to the try that uses the last attempt: setting `final_attempt_code`.
  TED000084: {
    status: 400,
    title: 'Incorrect Token',
    description: 'Token sent does not match expected',
    translation: 'Token enviado não condiz com, o esperado',
  },
  // [DOC 004] 404 on the single-TED resend page (400 on the schedule pages: setting `invalid_status_http`).
  TED000086: {
    status: 404,
    title: 'Invalid Status',
    description: 'Ted not in pending_2fa_approval status',
    translation: 'Ted não está pendente de aprovação por autenticação de dois fatores',
  },
  // [DOC 004] Answered by a resend when QI fails to send the new token (sandbox setting `resend_token_error`).
  TED000087: {
    status: 400,
    title: 'Error Sending Token',
    description: 'An error occurred while resending token and its being investigated',
    translation: 'Um erro ocorreu ao reenviar token e está sendo investigado',
  },
  // [INFERRED] QI's duplicate-key behaviour is undocumented; 409 follows QI's CaaS pages, the code is the sandbox's own.
  DUPLICATE_REQUEST_CONTROL_KEY: {
    status: 409,
    title: 'Conflict',
    description: 'request_control_key already used: {request_control_key}',
    translation: 'request_control_key já utilizada: {request_control_key}',
  },
  // [INFERRED] The code comes from the `insufficient_balance_code` setting: QI's is not public.
  INSUFFICIENT_BALANCE: {
    status: 400,
    title: 'Bad Request',
    description: 'Insufficient balance in account {account_key}',
    translation: 'Saldo insuficiente na conta {account_key}',
  },
  // [INFERRED] Unknown routes: a Flask-style 404 in the envelope.
  NOT_FOUND: {
    status: 404,
    title: 'Not Found',
    description: 'The requested URL was not found on the server.',
    translation: 'A URL solicitada não foi encontrada no servidor.',
  },
} satisfies Record<string, Entry>

export type QiErrorKey = keyof typeof CATALOG

/** Every catalogue key, in source order (the label test reads their comments). */
export const QI_ERROR_KEYS = Object.keys(CATALOG) as QiErrorKey[]

const CODES: Partial<Record<QiErrorKey, string>> = {
  DUPLICATE_REQUEST_CONTROL_KEY: 'QIT000409',
  NOT_FOUND: 'QIT000404',
}

export type QiErrorOptions = {
  params?: Record<string, string>
  extra_fields?: Record<string, unknown>
  status?: number
  code?: string
}

const fill = (text: string, params: Record<string, string>) =>
  text.replace(/\{(\w+)\}/g, (m, k: string) => params[k] ?? m)

export const qiError = (key: QiErrorKey, options: QiErrorOptions = {}): { status: number; body: QiErrorBody } => {
  const entry: Entry = CATALOG[key]
  const params = options.params ?? {}
  return {
    status: options.status ?? entry.status,
    body: {
      title: entry.title,
      description: fill(entry.description, params),
      translation: fill(entry.translation, params),
      code: options.code ?? CODES[key] ?? key,
      extra_fields: options.extra_fields ?? {},
    },
  }
}

export const qiErrorResponse = (key: QiErrorKey, options?: QiErrorOptions): Response => {
  const { status, body } = qiError(key, options)
  return Response.json(body, { status })
}

/** Ends the request with a QI error (the app's onError answers the carried response). */
export const qiFail = (key: QiErrorKey, options?: QiErrorOptions): never => {
  const res = qiErrorResponse(key, options)
  throw new HTTPException(res.status as ContentfulStatusCode, { res })
}

/** GDF000014 with the failed check in extra_fields.sandbox_reason (a sandbox-only aid; QI gives no detail). */
export const unauthenticated = (reason: string): never =>
  qiFail('GDF000014', { extra_fields: { sandbox_reason: reason } })

/**
 * QIT000001 with QI's fixed texts ("Schema Error"); the failing fields go in extra_fields.errors, a dotted field
 * path → marshmallow-style messages ([INFERRED]: QI's pages do not show where the details are).
 */
export const schemaFail = (errors: Record<string, string[]>): never => qiFail('QIT000001', { extra_fields: { errors } })

const STATUS_TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  409: 'Conflict',
  429: 'Too Many Requests',
  500: 'Internal Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
}

/** Envelope for an injected fault without a body: QIT000500 for 500, otherwise [INFERRED] QIT000<status>. */
export const faultErrorBody = (status: number): QiErrorBody => {
  if (status === 500) return qiError('QIT000500').body
  const title = STATUS_TITLES[status] ?? 'Error'
  return {
    title,
    description: `${title} (injected by the sandbox)`,
    translation: `${title} (injetado pelo sandbox)`,
    code: `QIT000${status}`,
    extra_fields: {},
  }
}
