"""iop-facilitator: lead and document Intensive Outpatient Program groups.

This module must stay import-light: the CLI imports it on every start.
"""

__version__ = "0.1.0"
