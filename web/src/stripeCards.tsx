import { useEffect, useId, useRef, useState } from "react";
import type { Stripe, StripeCardElement, StripeCardElementChangeEvent } from "@stripe/stripe-js";
import type { AuthenticationResult, CardFieldsProps, CardProvider, CardSource, PaymentMethodResult } from "./cards";

// Stripe's card element: the card number, expiry and CVC are typed into Stripe's own iframe (real Stripe.js), so
// this page's script never sees them (PCI DSS SAQ A). The page only ever holds the PaymentMethod id Stripe.js
// returns. A thin wrapper over @stripe/stripe-js rather than @stripe/react-stripe-js: that package's CardElement
// calls element.off() and element.update(), which localstripe's Stripe.js stand-in (the browser tests, `make web`)
// does not have; this wrapper uses only elements().create("card"), mount, on("change") and destroy.

function errorMessage(error: unknown, fallback: string): string {
  if (error && typeof error === "object" && "message" in error && typeof error.message === "string") {
    return error.message;
  }
  return fallback;
}

async function createPaymentMethod(stripe: Stripe, element: StripeCardElement): Promise<PaymentMethodResult> {
  try {
    // `| undefined`: unpatched localstripe resolves createPaymentMethod with nothing (our launcher patches its stand-in:
    // tools/dev/local_stripe, stand_in_creates_payment_methods); the page then reports a refused card, never crashes.
    const result: Awaited<ReturnType<Stripe["createPaymentMethod"]>> | undefined = await stripe.createPaymentMethod({
      type: "card",
      card: element,
    });
    if (result?.paymentMethod) return { ok: true, id: result.paymentMethod.id };
    return { ok: false, message: errorMessage(result?.error, "Stripe did not accept the card.") };
  } catch (error) {
    return { ok: false, message: errorMessage(error, "Stripe could not be reached.") };
  }
}

/** The entered card as a CardSource: one PaymentMethod per card entered (a retry reuses it), none before Pay. */
export function cardSource(stripe: Stripe, element: StripeCardElement): CardSource {
  let created: Promise<PaymentMethodResult> | null = null;
  return {
    async paymentMethod() {
      created ??= createPaymentMethod(stripe, element);
      const result = await created;
      if (!result.ok) created = null; // a refused card may be corrected or retried: ask Stripe again
      return result;
    },
  };
}

export function stripeCards(stripe: Stripe): CardProvider {
  function StripeCardFields({ onCard, showErrors }: CardFieldsProps) {
    const id = useId();
    const mountPoint = useRef<HTMLDivElement>(null);
    const [state, setState] = useState<{ complete: boolean; error?: string }>({ complete: false });

    useEffect(() => {
      const element = stripe.elements().create("card", { hidePostalCode: true });
      // Real Stripe.js passes a change event; localstripe's stand-in passes none, so completeness is then unknown
      // and Stripe decides when the PaymentMethod is created.
      element.on("change", (event?: StripeCardElementChangeEvent) => {
        const complete = event ? event.complete : true;
        setState({ complete, error: event?.error?.message });
        onCard(complete ? cardSource(stripe, element) : null);
      });
      if (mountPoint.current) element.mount(mountPoint.current);
      return () => {
        onCard(null);
        element.destroy();
      };
    }, [onCard]);

    const error = state.error ?? (showErrors && !state.complete ? "Enter the card details." : undefined);
    return (
      <fieldset className="card-fields">
        <legend id={`${id}-legend`}>Card</legend>
        <div
          id={`${id}-card`}
          className="stripe-card"
          data-testid="stripe-card-element"
          role="group"
          aria-labelledby={`${id}-legend`}
          aria-describedby={error ? `${id}-error` : undefined}
          ref={mountPoint}
        />
        {error && (
          <p id={`${id}-error`} className="error">
            {error}
          </p>
        )}
      </fieldset>
    );
  }

  async function authenticate(clientSecret: string): Promise<AuthenticationResult> {
    try {
      const result = await stripe.confirmCardPayment(clientSecret);
      return result.error ? { ok: false, message: errorMessage(result.error, "Authentication failed.") } : { ok: true };
    } catch (error) {
      return { ok: false, message: errorMessage(error, "Authentication could not be completed.") };
    }
  }

  return { Fields: StripeCardFields, authenticate };
}
