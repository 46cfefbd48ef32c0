/**
 * Every error text the sFOX sandbox answers with, always as `{"error": <text>}`.
 * [DOC] texts are verbatim from docs.sfox.com (see /work/shared/providers/sfox.md); [INFERRED] texts are
 * made up because sFOX does not document that case. Adapters must not depend on [INFERRED] wording.
 */
export const sfoxErrors = {
  // [DOC] §2 (ddq page). [INFERRED] the same 401 body for every endpoint and for a missing header.
  invalidToken: 'invalid token. check authorization header.',
  // [DOC] §5.4/§5.5. [INFERRED] also used by confirm (§5.3 does not document an unknown transfer_id).
  transferNotFound: (id: string) => `Transfer with transfer_id ${id} not found.`,
  // [DOC] §5.3-§5.5.
  notPending: 'Funds transfer is not pending verification.',
  // [DOC] §5.3.
  codeExpired: 'Code expired. Request a new code for this transfer.',
  // [INFERRED] §5.3: the wrong-code answer is undocumented.
  invalidCode: 'Invalid code.',
  // [INFERRED] §9: attempt limits are undocumented; this answers every try on a burned code until a resend.
  tooManyAttempts: 'Too many invalid attempts. Request a new code for this transfer.',
  // [INFERRED] §9: resend cool-downs are undocumented (422, like the other confirmation errors).
  resendTooSoon: 'A new code was sent recently. Wait before requesting another one.',
  // [INFERRED] §5.2: idempotency conflict text is undocumented.
  duplicateTransfer: (id: string) => `Transfer with transfer_id ${id} already exists.`,
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
  // [INFERRED] §5.6: refusing a transfer type the partner is not enabled for (403).
  typeNotEnabled: (type: string) => `${type} transfers are not enabled for this account.`,
  // [DOC] §7.6 (ddq upload, 404); [INFERRED] reused by create when require_known_users_for_transfers is on.
  userNotFound: 'user not found',
  // [DOC] §7.6.
  extensionNotAllowed: (ext: string, name: string) => `File extension ${ext} is not allowed, invalid at file ${name}`,
  // [INFERRED] §7.6: the page was cut off at this case.
  mimeNotAllowed: (mime: string, name: string) => `File type ${mime} is not allowed, invalid at file ${name}`,
  // [DOC] §7.6.
  invalidFileName: (name: string) => `Invalid file name ${name}`,
  invalidDocumentType: (type: string) => `Invalid file type ${type}, file_types must be one of PoR,ID`,
  // [INFERRED] §7.6: the oversize answer is undocumented.
  fileTooLarge: (name: string, limit: string) => `File size exceeds the limit of ${limit}, invalid at file ${name}`,
  // [INFERRED] §7.6: missing parts are undocumented.
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
  internal: 'Internal Server Error',
} as const

const statusTexts: Record<number, string> = {
  400: 'Bad Request',
  401: sfoxErrors.invalidToken,
  403: 'Forbidden',
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
