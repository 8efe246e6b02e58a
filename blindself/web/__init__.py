"""The local check-in app behind ``blindself serve``: routes and templates, no logic of its own.

Every page is a services call rendered by a template; the rules (what a day asks for, which
code is valid, what a correction needs) live in :mod:`blindself.services`, shared with the
command line.  Nothing here imports below the services, so the server cannot open the seal.
"""
