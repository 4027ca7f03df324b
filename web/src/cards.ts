// What the checkout needs from its card fields, whichever they are: Stripe's card element (every build) or the
// simulated tokenizer (the development build only, src/CardFields.tsx). The page never holds card data itself:
// the fields hand it a CardSource, which turns the card entered into a processor token (`pm_...`).
import type { ComponentType } from "react";

export type PaymentMethodResult = { ok: true; id: string } | { ok: false; message: string };

/** The card as entered now: a token for it, asked for when Pay is pressed (the same token until the card changes). */
export interface CardSource {
  paymentMethod(): Promise<PaymentMethodResult>;
}

export interface CardFieldsProps {
  /** The card when it is complete, null while it is not. */
  onCard: (card: CardSource | null) => void;
  showErrors: boolean;
  disabled?: boolean;
}

export type AuthenticationResult = { ok: true } | { ok: false; message: string };

export interface CardProvider {
  Fields: ComponentType<CardFieldsProps>;
  /**
   * Completes customer authentication (3-D Secure) for a `requires_action` payment with its client secret.
   * Absent for the simulated processor, which never asks for it.
   */
  authenticate?: (clientSecret: string) => Promise<AuthenticationResult>;
}
