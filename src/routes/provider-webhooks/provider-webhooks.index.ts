import { createRouter } from '../router'
import * as handlers from './provider-webhooks.handlers'
import * as routes from './provider-webhooks.routes'

export const providerWebhooksRouter = createRouter().openapi(routes.receive, handlers.receive)
