// The Worker bundle's `zod` (wrangler.toml [alias]): zod itself, with English as its only locale. zod's
// `z` namespace re-exports every locale (260 KiB minified) and @hono/zod-openapi passes `z` whole to
// extendZodWithOpenApi, so no bundler can drop them; this module's own `z`, `locales` and `core` shadow
// zod's and leave the other locales unreferenced. The API is zod's (tests and tools use zod unaliased).

import * as z from './zod-english'
import * as zodCore from './zod-english-core'

export * from 'zod/v4'
export * as locales from './zod-english-locales'
export { z, z as default, zodCore as core }
