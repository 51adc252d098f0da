/**
 * Wait until `held` is empty (each entry removes itself when its `done` settles), for at most
 * `ms`. Resolves true when nothing is held, false when time ran out first. Read anew on each
 * round: entries settling meanwhile may be replaced by others (a re-claim), which are waited for
 * too. Shared by the event worker and the delivery worker for their graceful stop.
 */
export async function waitForSettled(
  held: ReadonlyMap<unknown, { done: Promise<unknown> }>,
  ms: number,
): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (held.size > 0) {
    const left = deadline - performance.now();
    if (left <= 0) return false;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...held.values()].map((h) => h.done)),
      new Promise((resolve) => {
        timer = setTimeout(resolve, left);
      }),
    ]);
    clearTimeout(timer);
  }
  return true;
}
