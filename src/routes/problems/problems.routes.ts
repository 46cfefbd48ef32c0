import { createRoute, z } from '@hono/zod-openapi'
import { PROBLEMS, type ProblemCode } from '../../lib/problem'
import { listOf, ProblemCodeSchema, problemResponse } from '../../schemas/common'
import { json } from '../describe'

export const ProblemTypeResource = z
  .object({
    object: z.literal('problem_type'),
    type: z.string().openapi({ description: 'This page: the `type` of every problem with this code.' }),
    code: ProblemCodeSchema,
    status: z.number().int(),
    title: z.string(),
    description: z.string().openapi({ description: 'What it means and what to do.' }),
  })
  .openapi('ProblemType')

const CODES = Object.keys(PROBLEMS) as ProblemCode[]
const tags = ['Operations']
const html = 'Browsers (`Accept: text/html`) get the same as a small HTML page.'

export const list = createRoute({
  operationId: 'listProblemTypes',
  method: 'get',
  path: '/problems',
  tags,
  security: [],
  summary: 'Every problem code the API answers, with what it means',
  description: html,
  responses: { 200: json(listOf(ProblemTypeResource, 'ProblemTypeList'), 'Every problem type.') },
})

export const get = createRoute({
  operationId: 'getProblemType',
  method: 'get',
  path: '/problems/{code}',
  tags,
  security: [],
  summary: "A problem's `type` URI: what the code means and what to do",
  description: html,
  request: {
    params: z.object({
      code: z.string().openapi({ param: { name: 'code', in: 'path' }, example: CODES[0] }),
    }),
  },
  responses: {
    200: json(ProblemTypeResource, 'The problem type.'),
    404: problemResponse('No problem has this code (`not_found`).'),
  },
})
