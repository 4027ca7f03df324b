import type { ApiClient } from "./api";
import type { CardProvider } from "./cards";
import { CheckoutPage } from "./CheckoutPage";
import { PaymentStatusPage } from "./PaymentStatusPage";

const STATUS_PATH = /^\/payments\/([^/]+)\/?$/;

/** Two routes, so no router library: `/` and `/payments/:id` (CloudFront serves index.html for both). */
export function App({ client, cards, path }: { client: ApiClient; cards: CardProvider; path: string }) {
  if (path === "/" || path === "/index.html") return <CheckoutPage client={client} cards={cards} />;
  const match = STATUS_PATH.exec(path);
  if (match) return <PaymentStatusPage client={client} paymentId={decodeURIComponent(match[1])} />;
  return (
    <main className="page">
      <h1>Page not found</h1>
      <p>
        <a href="/">Go to checkout</a>
      </p>
    </main>
  );
}
