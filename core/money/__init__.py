"""What a campaign charges: fee terms and models, the success-fee choice, payment providers and settlement.

The payment step of a sign-up (checkouts, provider events) is part of joining: :mod:`core.signup.payments`."""
