import { Hono } from 'hono'
import type { AppEnv } from '../../middleware/app-env'

export const documentPages = new Hono<AppEnv>()
