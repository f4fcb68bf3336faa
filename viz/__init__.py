"""The researcher's view of govsim (served by ``govsim viz`` / ``make viz``, or ``solara run viz/app.py``).

Dependencies point one way: ``viz`` reads ``sim``; nothing in ``sim`` imports ``viz``.

- :mod:`viz.app`        - the cockpit page: top bar, sidebar, one-screen layout, the player thread
- :mod:`viz.components` - the Solara components (headline, map panel, charts, inspector, levers)
- :mod:`viz.charts`     - ECharts options of the time series (pure functions of the daily frames)
- :mod:`viz.district`   - the generated district map and what can colour it (per-grid 4E figures)
- :mod:`viz.experiment` - the in-page experiment: one lever, a few values and seeds, 95% bands
- :mod:`viz.echart`     - the ECharts widget, updated in place (``echart.vue``)
- :mod:`viz.i18n`       - the page's words in 中文 / English; metric labels come from ``sim.metrics``
- :mod:`viz.levers`     - the live controls, derived from the scenario schema
- :mod:`viz.vizmodel`   - ``VizModel``: the model as the page drives it (changes between days, the
  counterfactual twin, readings cached per day)

See docs/VIEW.md.
"""
