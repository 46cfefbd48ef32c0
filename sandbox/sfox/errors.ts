/**
 * Every error text the sFOX sandbox answers with, always as `{"error": <text>}`.
 * [DOC] texts are verbatim from sFOX's own pages in /work/shared/providers/source-docs/ (page 000 Resend
 * Confirmation Code, 001/003 Create Transfer, 002 Submit Documents) or, where no page is stored, from the
 * summary /work/shared/providers/sfox.md (§n); [INFERRED] texts are made up because sFOX does not document
 * that case, each with the setting that turns the case on where there is one. Adapters must not depend on
 * [INFERRED] wording.
 */
export const sfoxErrors = {
  // [DOC] page 002 (401: "Invalid Enterprise API Key or not specified."). [INFERRED] the same 401 body for every
  // endpoint, GET /v1/user/balance included.
  invalidToken: 'invalid token. check authorization header.',
  // [DOC] page 000 (resend) and §5.5 (cancel). [INFERRED] also used by confirm (§5.3 does not document it).
  transferNotFound: (id: string) => `Transfer with transfer_id ${id} not found.`,
  // [DOC] page 000 (resend), §5.3 (confirm), §5.5 (cancel).
  notPending: 'Funds transfer is not pending verification.',
  // [DOC] §5.3.
  codeExpired: 'Code expired. Request a new code for this transfer.',
  // [INFERRED] §5.3: the wrong-code answer is undocumented.
  invalidCode: 'Invalid code.',
  // [INFERRED] §9: attempt limits are undocumented; this answers every try on a burned code until a resend.
  tooManyAttempts: 'Too many invalid attempts. Request a new code for this transfer.',
  // [INFERRED] §9: resend cool-downs are undocumented (422, like the other confirmation errors).
  resendTooSoon: 'A new code was sent recently. Wait before requesting another one.',
  // [DOC] page 001/003, 422 "Duplicate request".
  duplicateTransfer: 'A transaction with the same transfer_id already exists.',
  // [DOC] page 001/003, 422: "Transfer currency is restricted for you and/or the end user". [INFERRED] which
  // lists apply: the account's and the end user's (`POST /_sandbox/restricted-currencies`).
  restrictedCurrency: 'Restricted currency for partner or end user.',
  // [DOC] page 001/003, 422: "Your account and/or the user's account has insufficient balance of this currency".
  // [INFERRED] which balance is debited (PAYMENT: the end user's, PAYOUT: the account's; `POST /_sandbox/balances`).
  insufficientFunds: 'Insufficient funds.',
  // [DOC] page 001/003, 403: "You do not have permission to create transfers." [INFERRED] also answered to a
  // disabled PAYMENT/PAYOUT type and, with missing_transfer_permission_refuses 'transfer_routes', on the other
  // transfer routes.
  transferPermission: 'Partner transfer permission not granted.',
  // [INFERRED] create/confirm field validation (sFOX documents none for create).
  required: (field: string) => `${field} is required`,
  mustBeString: (field: string) => `${field} must be a string`,
  mustBeNumber: (field: string) => `${field} must be a number`,
  mustBePositive: (field: string) => `${field} must be greater than 0`,
  // [DOC] §5.7 (history validation); [INFERRED] reused verbatim by create (§5.2).
  purposeEnum: 'purpose must be one of the following: GOOD, SERVICE',
  typeEnum: 'type must be one of the following: PAYMENT, PAYOUT',
  // [DOC] §5.7: the message omits CANCELED although the filter accepts it.
  statusEnum: 'status must be one of the following: INITIATED, PENDING, COMPLETE',
  // [DOC] §5.7 for to_date; [INFERRED] the parallel from_date text.
  invalidDate: (field: 'from_date' | 'to_date') => `${field} must be a valid unix timestamp in milliseconds`,
  // [DOC] page 002 (404); [INFERRED] reused by create when require_known_users_for_transfers is on.
  userNotFound: 'user not found',
  // [DOC] page 002. [INFERRED] <FILE_EXTENSION> is the text after the last dot, as sent (no dot; empty if none).
  extensionNotAllowed: (ext: string, name: string) => `File extension ${ext} is not allowed, invalid at file ${name}`,
  // [DOC] page 002 ("Unsupported MIM type"). [INFERRED] <TYPE> is the part's Content-Type as sent.
  mimeNotAllowed: (mime: string, name: string) => `File mime type ${mime} is not allowed, invalid at file ${name}`,
  // [DOC] page 002.
  invalidFileName: (name: string) => `Invalid file name ${name}`,
  invalidDocumentType: (type: string) => `Invalid file type ${type}, file_types must be one of PoR,ID`,
  // [INFERRED] page 002 gives no size limit; only with the ddq_max_file_bytes setting (off by default).
  fileTooLarge: (name: string, limit: string) => `File size exceeds the limit of ${limit}, invalid at file ${name}`,
  // [INFERRED] page 002: missing parts are undocumented.
  filesRequired: 'files is required',
  fileTypesInvalid: 'file_types must be a JSON object',
  multipartRequired: 'Content-Type must be multipart/form-data',
  // [INFERRED] §3: the 429 body is undocumented.
  rateLimited: 'Too many requests. Try again later.',
  // [INFERRED] §4 lists these statuses without bodies.
  malformedBody: 'Malformed request body',
  notFound: 'Not Found',
  methodNotAllowed: 'Method Not Allowed',
  notAcceptable: 'Not Acceptable',
  // [DOC] page 002, 500 "Internal error". [INFERRED] the same body for every route's 500 (unexpected errors
  // and injected 500 faults without a body of their own).
  internal: 'An unknown error has occurred. If this persists, please contact support.',
} as const

// Bodies of injected faults: [DOC] 401, 403 (page 001) and 500 (page 002); the others are [INFERRED] (§4 has no bodies).
const statusTexts: Record<number, string> = {
  400: 'Bad Request',
  401: sfoxErrors.invalidToken,
  403: sfoxErrors.transferPermission,
  404: sfoxErrors.notFound,
  405: sfoxErrors.methodNotAllowed,
  406: sfoxErrors.notAcceptable,
  408: 'Request Timeout',
  422: 'Unprocessable Entity',
  429: sfoxErrors.rateLimited,
  500: sfoxErrors.internal,
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
}

/** The `{"error": ...}` body of an injected fault that has no body of its own. */
export const faultErrorBody = (status: number) => ({ error: statusTexts[status] ?? `HTTP ${status}` })
