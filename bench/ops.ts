/**
 * The op types the bench measures, in the order their phases run (each provider's chain works on
 * the transfers its previous phase left: create → resend → wrong-code confirm → confirm).
 */
export const OPS = [
  'create',
  'resend',
  'confirm_wrong',
  'confirm',
  'get',
  'qi_create',
  'qi_resend',
  'qi_confirm_wrong',
  'qi_confirm',
] as const
export type OpName = (typeof OPS)[number]

export type Provider = 'sfox' | 'qi'

export const PROVIDER_OF: Record<OpName, Provider> = {
  create: 'sfox',
  resend: 'sfox',
  confirm_wrong: 'sfox',
  confirm: 'sfox',
  // No provider call: the gateway reads its own row. Listed with the sFOX ops it follows.
  get: 'sfox',
  qi_create: 'qi',
  qi_resend: 'qi',
  qi_confirm_wrong: 'qi',
  qi_confirm: 'qi',
}

export const LABELS: Record<OpName, string> = {
  create: 'create PAYMENT',
  resend: 'resend',
  confirm_wrong: 'confirm (wrong code)',
  confirm: 'confirm',
  get: 'GET one transfer',
  qi_create: 'QI create TED',
  qi_resend: 'QI resend (resend_token)',
  qi_confirm_wrong: 'QI confirm (wrong token)',
  qi_confirm: 'QI confirm (validate_token)',
}

export const opsOf = (provider: Provider): OpName[] => OPS.filter((op) => PROVIDER_OF[op] === provider)
