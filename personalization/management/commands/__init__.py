"""Commands for operators and cron: build profiles, train and evaluate recommenders, flush events,
create API keys, install the default schedules."""
