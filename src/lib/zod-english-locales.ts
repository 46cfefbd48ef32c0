// The one locale the Worker's zod keeps (./zod-english.ts): its error messages are English.
export { default as en } from 'zod/v4/locales/en.js'
