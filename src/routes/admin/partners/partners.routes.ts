import { createRoute } from '@hono/zod-openapi'
import {
  CreatePartnerBody,
  PartnerList,
  PartnerListQuery,
  PartnerResource,
  UpdatePartnerBody,
} from '../../../schemas/partners'
import { adminErrors, adminSecurity, json, jsonBody, partnerParams } from '../../describe'

const security = adminSecurity
const tags = ['Admin']

export const routes = {
  create: createRoute({
    operationId: 'createPartner',
    method: 'post',
    path: '/partners',
    tags,
    security,
    summary: 'Create a partner',
    request: jsonBody(CreatePartnerBody),
    responses: { 201: json(PartnerResource, 'Created.'), ...adminErrors },
  }),
  list: createRoute({
    operationId: 'listPartners',
    method: 'get',
    path: '/partners',
    tags,
    security,
    summary: 'List partners',
    request: { query: PartnerListQuery },
    responses: { 200: json(PartnerList, 'A page of partners.'), ...adminErrors },
  }),
  get: createRoute({
    operationId: 'getPartner',
    method: 'get',
    path: '/partners/{partner_id}',
    tags,
    security,
    summary: 'Retrieve a partner',
    request: { params: partnerParams },
    responses: { 200: json(PartnerResource, 'The partner.'), ...adminErrors },
  }),
  update: createRoute({
    operationId: 'updatePartner',
    method: 'patch',
    path: '/partners/{partner_id}',
    tags,
    security,
    summary: "Update a partner's name or limits",
    request: { params: partnerParams, ...jsonBody(UpdatePartnerBody) },
    responses: { 200: json(PartnerResource, 'Updated.'), ...adminErrors },
  }),
}
