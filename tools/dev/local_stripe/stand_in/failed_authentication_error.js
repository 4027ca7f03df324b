// Appended to localstripe's Stripe.js stand-in (localstripe-v3.js) by tools/dev/local_stripe/patches.py,
// stand_in_reports_failed_authentication: when the customer fails the stand-in's 3-D Secure box, its
// confirmCardPayment resolves {paymentIntent} (status requires_payment_method) as if all went well. Stripe.js resolves
// {error} with code payment_intent_authentication_failure and the intent in error.payment_intent; so does this one.
(function () {
  const standIn = Stripe;

  Stripe = function (apiKey, options) {
    const stripe = standIn(apiKey, options);
    const confirm = stripe.confirmCardPayment;
    stripe.confirmCardPayment = async (clientSecret, data) => {
      const result = await confirm(clientSecret, data);
      const intent = result && result.paymentIntent;
      if (intent && intent.status === 'requires_payment_method') {
        return {error: {type: 'card_error', code: 'payment_intent_authentication_failure', payment_intent: intent,
          message: 'We are unable to authenticate your payment method. Please choose a different payment method and ' +
            'try again.'}};
      }
      return result;
    };
    return stripe;
  };
})();
