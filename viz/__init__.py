"""The interactive Solara view of govsim (served by ``govsim viz`` or ``solara run viz/app.py``).

Dependencies point one way: ``viz`` reads ``sim``; nothing in ``sim`` imports ``viz``.

- :mod:`viz.levers`  - the live controls, derived from the scenario schema (no default repeated here)
- :mod:`viz.vizmodel` - ``VizModel``: the model as the page drives it (keyword-only primitives for
  SolaraViz's Reset, lever changes between days, a counterfactual twin stepped in lockstep)
- :mod:`viz.figures`  - matplotlib drawings (community network, grid-map colours, charts)
- :mod:`viz.components` - the Solara components that read the model
- :mod:`viz.app`      - the page
"""
