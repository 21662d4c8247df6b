"""``python -m iop_facilitator`` runs the same entry point as ``iop``."""

from iop_facilitator.cli import main

if __name__ == "__main__":  # pragma: no cover - exercised by the e2e tests
    main()
