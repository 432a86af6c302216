"""The other ways to serve the benchmark app over MCP, for ``benchmarks.compare``.

Each module builds the same routes (``benchmarks.app.build_app``) and adds one library the way its
documentation shows. They import packages that are not dependencies of this project: they run in
the virtualenvs ``benchmarks/compare.py`` makes for them, never in ours.
"""
