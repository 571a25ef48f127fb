"""Commands for operators and cron: refit elasticities and suggest prices."""
