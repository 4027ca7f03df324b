import { useEffect, useId, useState } from "react";
import { tokenize } from "./tokenizer";

// The simulated tokenizer component: the card number, expiry and CVC live only in this component's state.
// The parent receives a token (or null while the details are incomplete), never the card data.

export interface CardFieldsProps {
  onToken: (token: string | null) => void;
  showErrors: boolean;
  disabled?: boolean;
}

type Field = "cardNumber" | "expiry" | "cvc";

export function CardFields({ onToken, showErrors, disabled }: CardFieldsProps) {
  const id = useId();
  const [card, setCard] = useState({ cardNumber: "", expiry: "", cvc: "" });
  const [touched, setTouched] = useState<Record<Field, boolean>>({ cardNumber: false, expiry: false, cvc: false });
  const result = tokenize(card);
  const token = result.ok ? result.token : null;

  useEffect(() => {
    onToken(token);
  }, [token, onToken]);

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
