"""The payment API: payments and refunds with exactly-once effects, behind the platform's load balancer.

The contract is docs/api.md (the OpenAPI 3.1 document is served at ``/openapi.json``). The package never imports the
infrastructure code of the repository (an import contract, ``make lint``).
"""
