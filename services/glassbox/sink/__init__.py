"""The ClickHouse writer: pure row processors per table, batch writes, migrations.

Entry points: :class:`glassbox.sink.consumer.Sink` (async, embeddable),
:func:`glassbox.sink.runner.run_sink` (the ``glassbox sink`` command) and
:func:`glassbox.sink.migrations.migrate`. Nothing heavy is imported here.
"""
