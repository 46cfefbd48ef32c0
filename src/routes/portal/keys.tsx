import { Hono } from 'hono'
import type { AppEnv } from '../../middleware/app-env'

export const keyPages = new Hono<AppEnv>()
