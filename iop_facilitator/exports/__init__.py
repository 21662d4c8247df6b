"""Staff exports: files that leave the app (attendance for billing, notes for the chart).

Shared pieces live in :mod:`iop_facilitator.exports.output` (stdlib only, safe to
import from fast paths): target checks, 0600 atomic writes, per-member file names,
CSV formula neutralisation, the disclosure notice and the export audit entry.

Each export module streams rows (never ORM objects for bulk data) and writes
through :func:`~iop_facilitator.exports.output.private_file`, so a file is either
complete and 0600 or absent.
"""
