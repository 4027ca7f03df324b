"""Tests of the payment API (services/payment_api): `make api-tests`."""
