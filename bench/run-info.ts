/** What a bench run ran on and with: the report's header prints it, the JSON report writes it. */
export type RunInfo = {
  cpus: number
  node: string
  loadAtStart: number[]
  loadAtEnd: number[]
  keyCacheSeconds: number
  fixedOtp: string
  qiToken: string
  rateLimit: number
}
