"""Use cases the shells share (DESIGN.md §3: below io/store/feeds, above cli/service/dist): price histories by
spec, scenario sets by name, volatility forecasts per book asset, and a whole-book evaluation that reports its
progress. The CLI and the service both call these; neither imports the other, and no CLI command imports
another command.
"""
