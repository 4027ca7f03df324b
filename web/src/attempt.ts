// One Idempotency-Key per checkout attempt. An attempt is (amount in minor units, currency, payment token):
// retrying or double-submitting the same attempt reuses its key; any change starts a new attempt, new key.

import type { Currency } from "./money";

export interface Attempt {
  amountMinor: number;
  currency: Currency;
  token: string;
}

export type KeyFactory = () => string;

export const randomKey: KeyFactory = () => crypto.randomUUID();

export class AttemptKeys {
  private current: { attempt: Attempt; key: string } | null = null;

  constructor(private readonly newKey: KeyFactory = randomKey) {}

  keyFor(attempt: Attempt): string {
    const c = this.current;
    if (
      c &&
      c.attempt.amountMinor === attempt.amountMinor &&
      c.attempt.currency === attempt.currency &&
      c.attempt.token === attempt.token
    ) {
      return c.key;
    }
    this.current = { attempt: { ...attempt }, key: this.newKey() };
    return this.current.key;
  }
}
