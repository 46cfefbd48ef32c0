import { healthReport } from '../../../operations/health-report'
import type { AppRouteHandler } from '../../router'
import type { routes } from './health.routes'

export const health: AppRouteHandler<typeof routes.health> = async (c) =>
  c.json(await healthReport(c.get('services')), 200)
