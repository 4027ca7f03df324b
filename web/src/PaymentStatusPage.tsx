import { useEffect, useState } from "react";
import { failureReason, type ApiClient, type PaymentOutcome } from "./api";
import { formatMinor, isCurrency } from "./money";

export function PaymentStatusPage({ client, paymentId }: { client: ApiClient; paymentId: string }) {
  const [outcome, setOutcome] = useState<PaymentOutcome | null>(null);

  useEffect(() => {
    let live = true;
    void client.getPayment(paymentId).then((o) => live && setOutcome(o));
    return () => {
      live = false;
    };
  }, [client, paymentId]);

  return (
    <main className="page">
      <h1>Payment status</h1>
      <div role="status" aria-live="polite">
        {outcome === null ? <p>Loading…</p> : <StatusView outcome={outcome} paymentId={paymentId} />}
      </div>
      <p>
        <a href="/">Back to checkout</a>
      </p>
    </main>
  );
}

function StatusView({ outcome, paymentId }: { outcome: PaymentOutcome; paymentId: string }) {
  if (outcome.kind === "unreachable") return <p>The payment service could not be reached.</p>;
  if (outcome.kind === "problem") {
    return outcome.problem.status === 404 ? (
      <p>
        No payment <code>{paymentId}</code>.
      </p>
    ) : (
      <p>{outcome.problem.detail ?? `The API answered ${outcome.problem.status}.`}</p>
    );
  }
  const p = outcome.payment;
  if (!p) return <p>Processing.</p>;
  const amount = isCurrency(p.currency) ? formatMinor(p.amount, p.currency) : String(p.amount);
  return (
    <dl className="status">
      <dt>Payment id</dt>
      <dd>
        <code>{p.id}</code>
      </dd>
      <dt>Status</dt>
      <dd>{p.status}</dd>
      <dt>Amount</dt>
      <dd>
        {amount} {p.currency}
      </dd>
      {p.card && (
        <>
          <dt>Card</dt>
          <dd>
            {p.card.brand} ending {p.card.last4}
          </dd>
        </>
      )}
      {p.status === "failed" && (
        <>
          <dt>Reason</dt>
          <dd>{failureReason(p.failure_code)}</dd>
        </>
      )}
      <dt>Created</dt>
      <dd>{p.created_at}</dd>
    </dl>
  );
}
