// Appended to localstripe's Stripe.js stand-in (localstripe-v3.js) by tools/dev/local_stripe/patches.py,
// stand_in_creates_payment_methods: the stand-in's createPaymentMethod is an empty function that resolves nothing.
// Stripe.js's createPaymentMethod({type: "card", card: <card element>, billing_details?}) posts the card element's
// fields to /v1/payment_methods with the publishable key and resolves {paymentMethod} or {error}; so does this one,
// with the stand-in's card element (plain inputs) and against the emulator. It runs in the stand-in's own script,
// after it: LOCALSTRIPE_BASE_API and Element (the stand-in's card element class) are that script's.
(function () {
  const standIn = Stripe;

  // billing_details as Stripe's form encoding: billing_details[address][postal_code]=...
  function flatten(prefix, value, into) {
    if (value !== null && typeof value === 'object') {
      Object.keys(value).forEach((name) => flatten(`${prefix}[${name}]`, value[name], into));
    } else if (value !== undefined && value !== null && value !== '') {
      into.append(prefix, String(value));
    }
    return into;
  }

  async function createPaymentMethod(apiKey, data) {
    console.log('localstripe: Stripe().createPaymentMethod()');
    const card = data && data.card;
    if (!data || data.type !== 'card' || !(card instanceof Element)) {
      return {error: {type: 'invalid_request_error',
        message: 'localstripe (patched): createPaymentMethod takes {type: "card", card: <the card element>}'}};
    }
    if (!card.value || !card.value.card.number) {  // Stripe.js checks the element before any request
      return {error: {type: 'validation_error', code: 'incomplete_number', message: 'Your card number is incomplete.'}};
    }
    const body = flatten('card', card.value.card, new URLSearchParams({type: 'card', key: apiKey}));
    const billing = {...(data.billing_details || {})};
    billing.address = {postal_code: card.value.postal_code, ...(billing.address || {})};
    flatten('billing_details', billing, body);
    try {
      const response = await fetch(`${LOCALSTRIPE_BASE_API}/v1/payment_methods`, {method: 'POST', body});
      const answer = await response.json().catch(() => ({}));
      if (response.status !== 200 || answer.error) {
        return {error: answer.error || {type: 'api_error', message: `the emulator answered ${response.status}`}};
      }
      return {paymentMethod: answer};
    } catch (err) {
      return {error: {type: 'api_connection_error', message: String((err && err.message) || err)}};
    }
  }

  Stripe = function (apiKey, options) {
    const stripe = standIn(apiKey, options);
    stripe.createPaymentMethod = (data) => createPaymentMethod(apiKey, data);
    return stripe;
  };
})();
