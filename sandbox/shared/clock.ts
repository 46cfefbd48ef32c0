/** A clock tests can move forward (`POST /_sandbox/clock`) so code expiry is tested without sleeping. */
export type Clock = { now: () => number; advance: (ms: number) => void; reset: () => void }

export const createClock = (): Clock => {
  let offset = 0
  return {
    now: () => Date.now() + offset,
    advance: (ms) => {
      offset += ms
    },
    reset: () => {
      offset = 0
    },
  }
}
