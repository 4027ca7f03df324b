# shellcheck shell=bash
# The user Session Manager sessions run as, on every host of the stack that runs the SSM agent: the API instances
# (boot/hardening.sh) and the migration host (boot/migration-host.sh). The session preferences are one per account and
# region (lib/components/host_security.py: runAsEnabled, runAsDefaultUser ssm-user), so a session on either host runs
# as this user. Sourced under the user data's `set -Eeuo pipefail`; defines only, runs nothing.

SESSION_USER=ssm-user
# Where the SSM agent writes the passwordless sudo it gives the user it creates (when runAs is disabled and the user
# is missing). A variable so that tests/unit/boot/test_session_user.py can point it at a folder of its own.
SSM_SUDOERS=${SSM_SUDOERS:-/etc/sudoers.d/ssm-agent-users}

# Session Manager runs sessions as SESSION_USER (runAsEnabled): it must exist, and exists here with no sudo and no
# password, so an operator who needs root asks for a change, not a session (PCI DSS 7.2.2). The agent's sudoers file is
# removed whoever wrote it.
session_user_without_sudo() {
  id "$SESSION_USER" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$SESSION_USER"
  rm -f "$SSM_SUDOERS"
}
