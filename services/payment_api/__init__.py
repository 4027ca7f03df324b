"""The payment API (the service the Auto Scaling Group runs) lives here."""
