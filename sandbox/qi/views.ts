import type { Ted } from './state'

/** The shapes QI answers with (reference §4). */

/** Create, resend and 202-pending answers, and `extra_fields.ted_data` of errors that reject the TED. */
export const tedSummary = (ted: Ted) => ({
  request_control_key: ted.request_control_key,
  ted_key: ted.ted_key,
  transaction_amount: ted.transaction_amount,
  fee_amount: ted.fee_amount,
  ted_status: ted.ted_status,
  created_at: ted.created_at,
})

/** The 201 answer of an approval that sent the TED. */
export const tedSent = (ted: Ted) => ({
  request_control_key: ted.request_control_key,
  transaction_key: ted.transaction_key,
  ted_key: ted.ted_key,
  transaction_amount: ted.transaction_amount,
  fee_amount: ted.fee_amount,
  ted_status: ted.ted_status,
  created_at: ted.created_at,
})

/** `GET .../ted/{ted_key}/outgoing`, list items and webhook `data` (refusal_reason is {} when none). */
export const tedView = (ted: Ted) => {
  const t = ted.target_account
  return {
    request_control_key: ted.request_control_key,
    ted_key: ted.ted_key,
    account_key: ted.account_key,
    created_at: ted.created_at,
    ted_status: ted.ted_status,
    transaction_amount: ted.transaction_amount,
    fee_amount: ted.fee_amount,
    target_account: {
      account_branch: t.account_branch,
      account_digit: t.account_digit,
      account_number: t.account_number,
      ispb: t.ispb,
      owner_document_number: t.owner_document_number,
      owner_name: t.owner_name,
    },
    refusal_reason: ted.refusal_reason,
  }
}
