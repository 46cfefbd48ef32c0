import { createRoute } from '@hono/zod-openapi'
import { ProviderNameSchema, problemResponse } from '../../../schemas/common'
import {
  ConnectionCheckResource,
  ConnectionList,
  ConnectionResource,
  QiConnectionBody,
  SfoxConnectionBody,
} from '../../../schemas/partners'
import { adminErrors, adminSecurity, json, jsonBody, modeQuery, optionalModeQuery, partnerParams } from '../../describe'

const security = adminSecurity
const tags = ['Admin']

export const routes = {
  putSfox: createRoute({
    operationId: 'setSfoxConnection',
    method: 'put',
    path: '/partners/{partner_id}/connections/sfox',
    tags,
    security,
    summary: "Set the partner's sFOX connection",
    request: { params: partnerParams, query: modeQuery, ...jsonBody(SfoxConnectionBody) },
    responses: {
      200: json(ConnectionResource, 'Stored (credentials encrypted) and checked: see `last_check`.'),
      ...adminErrors,
    },
  }),
  putQi: createRoute({
    operationId: 'setQiConnection',
    method: 'put',
    path: '/partners/{partner_id}/connections/qi',
    tags,
    security,
    summary: "Set the partner's QI Tech connection",
    description: 'Both keys are checked (P-521, ES512) before anything is stored; credentials are encrypted.',
    request: { params: partnerParams, query: modeQuery, ...jsonBody(QiConnectionBody) },
    responses: {
      200: json(ConnectionResource, 'Stored (credentials encrypted) and checked: see `last_check`.'),
      ...adminErrors,
    },
  }),
  list: createRoute({
    operationId: 'listConnections',
    method: 'get',
    path: '/partners/{partner_id}/connections',
    tags,
    security,
    summary: "List a partner's provider connections",
    request: { params: partnerParams, query: optionalModeQuery },
    responses: {
      200: json(ConnectionList, 'Connections (of one mode, or both), without credentials.'),
      ...adminErrors,
    },
  }),
  remove: createRoute({
    operationId: 'deleteConnection',
    method: 'delete',
    path: '/partners/{partner_id}/connections/{provider}',
    tags,
    security,
    summary: 'Remove a provider connection',
    request: {
      params: partnerParams.extend({
        provider: ProviderNameSchema.openapi({ param: { name: 'provider', in: 'path' } }),
      }),
      query: modeQuery,
    },
    responses: { 204: { description: 'Removed.' }, ...adminErrors },
  }),
  check: createRoute({
    operationId: 'checkConnection',
    method: 'post',
    path: '/partners/{partner_id}/connections/{provider}/check',
    tags,
    security,
    summary: "Check a partner's provider connection now",
    description:
      'Harmless authenticated calls with the stored credentials (no money moves, no code is sent): sFOX reads ' +
      'balances and its transfer permissions; QI calls its authentication test endpoint. Every failed check says ' +
      "what to fix. The result is stored as the connection's `last_check`; every PUT runs one too.",
    request: {
      params: partnerParams.extend({
        provider: ProviderNameSchema.openapi({ param: { name: 'provider', in: 'path' } }),
      }),
      query: modeQuery,
    },
    responses: {
      200: json(ConnectionCheckResource, 'The checks, passed or not (a failed check is still a 200).'),
      ...adminErrors,
      404: problemResponse('No such partner or connection (`partner_not_found`, `connection_not_found`).'),
    },
  }),
}
