import { useEffect, useId, useMemo, useState } from "react";
import type { CardFieldsProps, CardProvider, CardSource } from "./cards";
import { tokenize } from "./tokenizer";

// The simulated tokenizer component (development build only: src/main.tsx imports it only when
// import.meta.env.MODE is "development", and vite.config.ts fails a production build that includes it).
// The card number, expiry and CVC live only in this component's state. The parent receives a CardSource for the
// token (or null while the details are incomplete), never the card data.

type Field = "cardNumber" | "expiry" | "cvc";

export function CardFields({ onCard, showErrors, disabled }: CardFieldsProps) {
  const id = useId();
  const [card, setCard] = useState({ cardNumber: "", expiry: "", cvc: "" });
  const [touched, setTouched] = useState<Record<Field, boolean>>({ cardNumber: false, expiry: false, cvc: false });
  const result = tokenize(card);
  const token = result.ok ? result.token : null;

  const source = useMemo<CardSource | null>(
    () => (token === null ? null : { paymentMethod: async () => ({ ok: true, id: token }) }),
    [token],
  );

  useEffect(() => {
    onCard(source);
  }, [source, onCard]);

  const errorFor = (field: Field): string | undefined =>
    !result.ok && (showErrors || touched[field]) ? result.errors[field] : undefined;

  const input = (field: Field, label: string, extra: Record<string, string>) => {
    const error = errorFor(field);
    const inputId = `${id}-${field}`;
    return (
      <div className="field">
        <label htmlFor={inputId}>{label}</label>
        <input
          id={inputId}
          name={field}
          type="text"
          value={card[field]}
          disabled={disabled}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? `${inputId}-error` : undefined}
          onChange={(e) => setCard((c) => ({ ...c, [field]: e.target.value }))}
          onBlur={() => setTouched((t) => ({ ...t, [field]: true }))}
          {...extra}
        />
        {error && (
          <p id={`${inputId}-error`} className="error">
            {error}
          </p>
        )}
      </div>
    );
  };

  return (
    <fieldset className="card-fields">
      <legend>Card (simulated tokenizer)</legend>
      {input("cardNumber", "Card number", {
        inputMode: "numeric",
        autoComplete: "cc-number",
        placeholder: "4242 4242 4242 4242",
      })}
      <div className="row">
        {input("expiry", "Expiry", { inputMode: "numeric", autoComplete: "cc-exp", placeholder: "MM/YY" })}
        {input("cvc", "CVC", { inputMode: "numeric", autoComplete: "cc-csc", placeholder: "123" })}
      </div>
    </fieldset>
  );
}

/** The simulated processor's card fields: no customer authentication step. */
export const simulatedCards: CardProvider = { Fields: CardFields };
