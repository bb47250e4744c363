"""Core: model calculators, provenance, structure helpers, labelling and energy zeros.

Code every stage uses and that knows no stage: it imports only :mod:`mlip_finetune.schemas`
and :mod:`mlip_finetune.units` from this package.
"""
