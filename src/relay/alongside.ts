/**
 * Both results, after both have finished: unlike Promise.all, a failure of one never leaves the
 * other running on (a drain still publishing while the loop starts the next one could reorder).
 */
export async function alongside<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b])
  if (ra.status === 'rejected') throw ra.reason
  if (rb.status === 'rejected') throw rb.reason
  return [ra.value, rb.value]
}
