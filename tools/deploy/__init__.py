"""``make deploy``, ``make plan`` and ``make verify-deployment``: the path from a configuration to a running,
checked stack on an account (the sandbox runs the same path against the emulator).

- ``account``: the account preflight between synth and ``terraform init`` (certificates, EIP and vCPU quotas, names
  held outside the state, hosted zone, CloudTrail), ``python -m tools.deploy.account <stack folder>``;
- ``account_names``: its one table of named resource types: lookup call and ``terraform import`` id per type;
- ``stack_view``: the synthesized stack read with the values that will be applied (provider regions, variables);
- ``tfvars``: ``environments/<name>.tfvars`` read (strings, numbers, booleans), refusing what it cannot read;
- ``checks``: the result of one account or deployment check, and how a list of them is shown;
- ``outputs``: ``cfn-outputs/flat-outputs.json``, written per stack, never losing another stack's key;
- ``tfcli``: Terraform with the providers from the local mirror (``make validate``, deploy, the sandbox);
- ``cost_estimate``: ``make cost``, the rough monthly cost of a synthesized stack from ``facts/prices_us_east_1.json``.
"""
