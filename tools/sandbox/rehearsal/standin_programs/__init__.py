"""The stand-in programs, each a standalone stdlib-only script that ``standins.install_standins`` copies into the
rehearsal's root (``#!/usr/bin/python3``, the host's Debian Python 3.11). They never import each other or the
project: inside the root only the copied file exists. Importable here so that tests and ``standins.py`` can read their
constants."""
