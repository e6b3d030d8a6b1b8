"""Flask-free services between ingest and the web.

Complaints, the working-day calendar, staff accounts and API keys, rate limits. Every
channel (the web form, Open311, the help desk, the command line) calls these, so they behave
identically. Nothing here imports Flask; errors are :class:`gis.errors.SigapError`
subclasses (:mod:`services.errors`) that the web turns into HTTP answers.
"""
