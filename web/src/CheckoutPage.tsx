import { useCallback, useId, useRef, useState, type FormEvent } from "react";
import { failureReason, type ApiClient, type PaymentOutcome } from "./api";
import { AttemptKeys, randomKey, type KeyFactory } from "./attempt";
import type { CardProvider, CardSource } from "./cards";
import { CURRENCIES, formatMinor, isCurrency, parseMajor, type Currency } from "./money";

export const ORDER_DESCRIPTION = "Order 1042";

export interface CheckoutPageProps {
  client: ApiClient;
  /** The card fields: Stripe's card element, or the simulated tokenizer in the development build (src/main.tsx). */
  cards: CardProvider;
  newKey?: KeyFactory;
}

/** What the page shows after Pay: the API's answer, or why no payment was made or completed. */
type Shown =
  | PaymentOutcome
  | { kind: "card_refused"; message: string }
  | { kind: "authentication_incomplete"; message: string; paymentId: string };

export function CheckoutPage({ client, cards, newKey = randomKey }: CheckoutPageProps) {
  const id = useId();
  const [amountText, setAmountText] = useState("19.99");
  const [currency, setCurrency] = useState<Currency>("EUR");
  const [card, setCard] = useState<CardSource | null>(null);
  const [submitted, setSubmitted] = useState(false);
  const [inFlight, setInFlight] = useState(false);
  const [outcome, setOutcome] = useState<Shown | null>(null);
  const keys = useRef(new AttemptKeys(newKey));
  const busy = useRef(false);
  const onCard = useCallback((c: CardSource | null) => setCard(c), []);

  const amount = parseMajor(amountText, currency);
  const amountError = !amount.ok && (submitted || amountText !== "") ? amount.error : undefined;

  async function onSubmit(event: FormEvent) {
    event.preventDefault();
    setSubmitted(true);
    if (busy.current || !amount.ok || card === null) return;
    busy.current = true;
    setInFlight(true);
    setOutcome(null);
    try {
      setOutcome(await pay(amount.minor, card));
    } finally {
      busy.current = false;
      setInFlight(false);
    }
  }

  /** Token, payment, then (Stripe) 3-D Secure and the final status as the API has it. */
  async function pay(amountMinor: number, source: CardSource): Promise<Shown> {
    const method = await source.paymentMethod();
    if (!method.ok) return { kind: "card_refused", message: method.message };
    const key = keys.current.keyFor({ amountMinor, currency, token: method.id });
    const created = await client.createPayment(
      { amount: amountMinor, currency, payment_method: method.id, description: ORDER_DESCRIPTION },
      key,
    );
    if (created.kind !== "requires_action" || !created.clientSecret || !cards.authenticate) return created;
    const authenticated = await cards.authenticate(created.clientSecret);
    const settled = await client.settle(created.payment.id);
    if (!authenticated.ok && (settled.kind === "requires_action" || settled.kind === "processing")) {
      return { kind: "authentication_incomplete", message: authenticated.message, paymentId: created.payment.id };
    }
    return settled;
  }

  return (
    <main className="page">
      <h1>Checkout</h1>
      <section aria-labelledby={`${id}-summary`} className="summary">
        <h2 id={`${id}-summary`}>Order summary</h2>
        <p>{ORDER_DESCRIPTION}</p>
        <p className="total">
          Total: <strong>{amount.ok ? `${formatMinor(amount.minor, currency)} ${currency}` : `— ${currency}`}</strong>
        </p>
      </section>
      <form onSubmit={onSubmit} noValidate>
        <div className="row">
          <div className="field">
            <label htmlFor={`${id}-amount`}>Amount</label>
            <input
              id={`${id}-amount`}
              name="amount"
              type="text"
              inputMode="decimal"
              value={amountText}
              disabled={inFlight}
              aria-invalid={amountError ? true : undefined}
              aria-describedby={amountError ? `${id}-amount-error` : undefined}
              onChange={(e) => setAmountText(e.target.value)}
            />
            {amountError && (
              <p id={`${id}-amount-error`} className="error">
                {amountError}
              </p>
            )}
          </div>
          <div className="field">
            <label htmlFor={`${id}-currency`}>Currency</label>
            <select
              id={`${id}-currency`}
              name="currency"
              value={currency}
              disabled={inFlight}
              onChange={(e) => isCurrency(e.target.value) && setCurrency(e.target.value)}
            >
              {CURRENCIES.map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
            </select>
          </div>
        </div>
        <cards.Fields onCard={onCard} showErrors={submitted} disabled={inFlight} />
        <button type="submit" disabled={inFlight}>
          Pay
        </button>
      </form>
      <div role="status" aria-live="polite" className="outcome">
        {inFlight ? <p>Payment in progress…</p> : outcome && <OutcomeView outcome={outcome} />}
      </div>
    </main>
  );
}

function statusLink(id: string) {
  return <a href={`/payments/${encodeURIComponent(id)}`}>its status page</a>;
}

function OutcomeView({ outcome }: { outcome: Shown }) {
  switch (outcome.kind) {
    case "card_refused":
      return (
        <div className="problem">
          <h2>Card not accepted</h2>
          <p>{outcome.message}</p>
        </div>
      );
    case "requires_action":
      return (
        <div>
          <h2>Payment needs authentication</h2>
          <p>The card issuer asks for authentication this page cannot complete. Check {statusLink(outcome.payment.id)}.</p>
        </div>
      );
    case "authentication_incomplete":
      return (
        <div className="declined">
          <h2>Authentication not completed</h2>
          <p>
            {outcome.message} No charge was made; check {statusLink(outcome.paymentId)}.
          </p>
        </div>
      );
    case "succeeded":
      return (
        <div className="success">
          <h2>Payment succeeded</h2>
          <p>
            Payment id: <code>{outcome.payment.id}</code> (
            <a href={`/payments/${encodeURIComponent(outcome.payment.id)}`}>status page</a>)
          </p>
        </div>
      );
    case "declined":
      return (
        <div className="declined">
          <h2>Payment declined</h2>
          <p>
            {failureReason(outcome.payment.failure_code)}
            {outcome.payment.failure_code && <> (code: <code>{outcome.payment.failure_code}</code>)</>}
          </p>
        </div>
      );
    case "processing":
      return (
        <div>
          <h2>Payment still processing</h2>
          {outcome.payment ? (
            <p>
              Check <a href={`/payments/${encodeURIComponent(outcome.payment.id)}`}>its status page</a>, or press Pay
              again: the same attempt is never charged twice.
            </p>
          ) : (
            <p>Press Pay again: the same attempt is never charged twice.</p>
          )}
        </div>
      );
    case "problem":
      return (
        <div className="problem">
          <h2>Payment not accepted</h2>
          <p>{outcome.problem.detail ?? outcome.problem.title ?? `The API answered ${outcome.problem.status}.`}</p>
          {outcome.problem.errors && outcome.problem.errors.length > 0 && (
            <ul>
              {outcome.problem.errors.map((e) => (
                <li key={`${e.field}:${e.message}`}>
                  {e.field}: {e.message}
                </li>
              ))}
            </ul>
          )}
        </div>
      );
    case "unreachable":
      return (
        <div className="problem">
          <h2>Payment service unreachable</h2>
          <p>Press Pay to retry: the same attempt is reused and never charged twice.</p>
        </div>
      );
  }
}
