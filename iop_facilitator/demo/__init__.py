"""The fictional demo clinic (``iop seed``, ``iop demo``): invented data for trials, demos and benchmarks.

``generate`` yields the rows (pure Python, no SQLAlchemy), ``fiction`` holds the
word pools, ``clinic.seed_clinic`` writes them into an empty database. Not a
service: nothing here is a rule about real records.
"""
