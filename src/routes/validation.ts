import type { ZodError } from 'zod'
import { Problem } from '../lib/problem'

type Issue = ZodError['issues'][number]

const fieldOf = (issue: Issue) => issue.path.map(String).join('.')

/** Every failing field, with a JSON pointer, zod's issue code and a readable message. */
export const validationProblem = (error: ZodError, target: string): Problem => {
  const errors = error.issues.map((issue) => {
    const field = fieldOf(issue)
    return {
      field: field || (target === 'json' ? '(body)' : `(${target})`),
      pointer: `/${issue.path.map(String).join('/')}`,
      code: issue.code,
      message: issue.message,
    }
  })
  const where = target === 'json' ? 'body' : target
  return new Problem('invalid_request', {
    detail: `The request ${where} is invalid: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`,
    extensions: { errors },
  })
}
