import { OpenAPIHono, type RouteConfig, type RouteHandler } from '@hono/zod-openapi'
import type { AppEnv } from '../middleware/app-env'
import { validationProblem } from './validation'

/** Every router answers schema failures the same way: a 422 problem listing each field. */
export const createRouter = () =>
  new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationProblem(result.error, result.target)
    },
  })

/** A handler typed by its route: params, body and every documented answer are checked. */
export type AppRouteHandler<R extends RouteConfig> = RouteHandler<R, AppEnv>
