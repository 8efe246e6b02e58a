"""Validated questionnaires shipped with blindself, one TOML file each
(docs/design.md#instruments); read by :mod:`blindself.protocol.instrument`."""
