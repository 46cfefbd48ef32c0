/** Lists fetch one row more than the page: its presence is `has_more`. */
export const toPage = <T>(rows: T[], limit: number) => ({ rows: rows.slice(0, limit), hasMore: rows.length > limit })
