import { randomBytes } from 'node:crypto';

const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
let lastTime = -1;
let lastRandom: number[] = [];

/**
 * A ULID: 48-bit millisecond time + 80 random bits, Crockford base32. Monotonic within a
 * millisecond in one process, so ids sort by receive order and serve as a cursor.
 */
export function createEventId(now: number = Date.now()): string {
  if (now === lastTime) {
    incrementRandom(lastRandom);
  } else {
    lastTime = now;
    lastRandom = Array.from(randomBytes(16).subarray(0, 16), (b) => b & 31);
  }
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = alphabet[t % 32] + time;
    t = Math.floor(t / 32);
  }
  return time + lastRandom.map((d) => alphabet[d]).join('');
}

function incrementRandom(digits: number[]): void {
  for (let i = digits.length - 1; i >= 0; i--) {
    const d = digits[i]!;
    if (d < 31) {
      digits[i] = d + 1;
      return;
    }
    digits[i] = 0;
  }
}

/** The smallest id that a ULID made at `ms` can have: turns a time bound into an id bound. */
export function eventIdFloor(ms: number): string {
  let time = '';
  let t = ms;
  for (let i = 0; i < 10; i++) {
    time = alphabet[t % 32] + time;
    t = Math.floor(t / 32);
  }
  return `${time}${'0'.repeat(16)}`;
}
