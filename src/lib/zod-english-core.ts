// zod/v4/core as ./zod-english.ts exports it: with English as its only locale.
export * from 'zod/v4/core'
export * as locales from './zod-english-locales'
