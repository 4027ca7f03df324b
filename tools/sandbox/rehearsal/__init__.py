"""The boot rehearsal: the launch template's real user data, run as root in an isolated root file system.

``standins.py`` installs the stand-ins (dnf, systemctl, the CloudWatch agent) and AL2023's layout into that root.
"""
